//! The rule oracle against the hand-labeled dev set: agreement per category and the summary
//! shares with 95% intervals.
//!
//! ```text
//! cargo run --release -p nines-data --example oracle_dev -- [--split dev|test|all] [--misses]
//! ```

use nines_data::label::dev_set::{DevSplit, evaluate, read_dev_set};
use nines_data::label::oracle::{OracleLabeler, lexicon};
use nines_data::record::Verdict;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = match args
        .iter()
        .position(|a| a == "--split")
        .map(|i| args.get(i + 1))
    {
        Some(Some(s)) if s == "dev" => Some(DevSplit::Dev),
        Some(Some(s)) if s == "all" => None,
        _ => Some(DevSplit::Test),
    };
    let items = read_dev_set(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/oracle_dev.jsonl"
    ))?;
    let items: Vec<_> = items
        .iter()
        .filter(|i| split.is_none_or(|s| i.split == s))
        .collect();
    let oracle = OracleLabeler::new();
    let report = evaluate(&items, |i| oracle.judge(&i.prompt, &i.completion).verdict)?;
    println!(
        "oracle {} on {} pairs ({split:?})\n",
        lexicon::version(),
        items.len()
    );
    println!("{}", report.to_markdown());
    if args.iter().any(|a| a == "--misses") {
        println!();
        for i in &items {
            let j = oracle.judge(&i.prompt, &i.completion);
            if (j.verdict == Verdict::Injury) != i.injury {
                println!("{} {:?} {} | {}", i.id, i.category, j.note(), i.completion);
            }
        }
    }
    Ok(())
}
