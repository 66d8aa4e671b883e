//! Both stand-in judges against the hand-written preference pairs (`data/judge_pairs.jsonl`):
//! agreement (1 when a judge prefers the better continuation, ½ for a tie), per kind and
//! overall, with 95% intervals, on the held-aside part (`--split dev|test|all`).
//!
//! ```text
//! cargo run --release --example judge_pairs -- [--split test] [--model PATH]
//! ```

use nines::data::label::dev_set::{DevSplit, JudgePair, PairKind, read_judge_pairs};
use nines::estimate::interval::{ProportionInterval, proportion};
use nines::pipeline::judge::{STORY_TIE_BAND, StandInJudge, StoryJudge, judgment, judgment_within};
use nines::runtime::{DType, DeviceSpec, LanguageModel, LoadOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let split = match flag("--split").as_deref() {
        Some("dev") => Some(DevSplit::Dev),
        Some("all") => None,
        _ => Some(DevSplit::Test),
    };
    let model =
        flag("--model").unwrap_or_else(|| "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".into());
    nines::runtime::device::set_threads(0)?;
    let pairs: Vec<JudgePair> = read_judge_pairs("data/judge_pairs.jsonl")?
        .into_iter()
        .filter(|p| split.is_none_or(|s| p.split == s))
        .collect();
    let lm = LanguageModel::load(
        &model,
        LoadOptions {
            device: DeviceSpec::Cpu,
            dtype: DType::F32,
        },
    )?;
    let story = StoryJudge::new(&lm);
    let old = StandInJudge::new(std::path::Path::new("models/minilm"), &lm)?;
    let triples = |side: fn(&JudgePair) -> &str| -> Vec<(&str, &str, &str)> {
        pairs
            .iter()
            .map(|p| (p.prompt.as_str(), side(p), p.next.as_str()))
            .collect()
    };
    let (better, worse) = (triples(|p| &p.better), triples(|p| &p.worse));
    let sb = story.quality(&better)?;
    let sw = story.quality(&worse)?;
    let ob = old.quality(&as_pairs(&better))?;
    let ow = old.quality(&as_pairs(&worse))?;
    let story_agrees: Vec<f64> = (0..pairs.len())
        .map(|i| judgment_within(sw[i], sb[i], STORY_TIE_BAND))
        .collect();
    let old_agrees: Vec<f64> = (0..pairs.len()).map(|i| judgment(ow[i], ob[i])).collect();
    let show = |v: &[f64]| -> anyhow::Result<String> {
        // Ties count ½: the interval is over 2n half-votes.
        let halves = v.iter().map(|x| (x * 2.0).round() as u64).sum::<u64>();
        let e = proportion(halves, 2 * v.len() as u64, ProportionInterval::Wilson, 0.95)?;
        Ok(format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci.0, e.ci.1))
    };
    println!(
        "Agreement with the hand-written preferences ({split:?}, {} pairs; {model})\n",
        pairs.len()
    );
    println!("| kind | pairs | story judge | MiniLM + fluency judge |\n|---|---|---|---|");
    for kind in PairKind::ALL {
        let idx: Vec<usize> = (0..pairs.len())
            .filter(|&i| pairs[i].kind == kind)
            .collect();
        if idx.is_empty() {
            continue;
        }
        let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<_>>();
        println!(
            "| {} | {} | {} | {} |",
            kind.as_str(),
            idx.len(),
            show(&pick(&story_agrees))?,
            show(&pick(&old_agrees))?
        );
    }
    println!(
        "| all | {} | {} | {} |",
        pairs.len(),
        show(&story_agrees)?,
        show(&old_agrees)?
    );
    Ok(())
}

fn as_pairs<'a>(t: &[(&'a str, &'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    t.iter().map(|(x, c, _)| (*x, *c)).collect()
}
