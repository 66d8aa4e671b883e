//! How many snippets of a snippet store (JSONL, one object with `prompt` and `completion` per
//! line) the rule oracle labels `injury`, `unsure` and `no_injury`; optionally writes the
//! flagged ones (id, note, completion; tab-separated) to a file for reading.
//!
//! ```text
//! cargo run --release -p nines-data --example oracle_corpus_counts -- runs/default/dataset.jsonl [--flagged FILE]
//! ```

use std::io::{BufRead, Write};

use nines_data::label::oracle::{OracleLabeler, lexicon};
use nines_data::record::Verdict;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: oracle_corpus_counts FILE [--flagged OUT]")?;
    let mut flagged = match args.iter().position(|a| a == "--flagged") {
        Some(i) => Some(std::fs::File::create(
            args.get(i + 1).ok_or("--flagged needs a file")?,
        )?),
        None => None,
    };
    let oracle = OracleLabeler::new();
    let (mut n, mut injury, mut unsure) = (0u64, 0u64, 0u64);
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default();
        let j = oracle.judge(text("prompt"), text("completion"));
        n += 1;
        match j.verdict {
            Verdict::Injury => {
                injury += 1;
                if let Some(f) = flagged.as_mut() {
                    let completion = text("completion").replace(['\n', '\t'], " ");
                    writeln!(f, "{}\t{}\t{completion}", text("id"), j.note())?;
                }
            }
            Verdict::Unsure => unsure += 1,
            _ => {}
        }
    }
    println!(
        "oracle {}: {n} snippets, injury {injury}, unsure {unsure}, no_injury {}",
        lexicon::version(),
        n - injury - unsure
    );
    Ok(())
}
