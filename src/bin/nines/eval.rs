//! `nines eval`: the stand-ins against hand-written data, and other checks behind the figures
//! in docs/.
//!
//! ```text
//! nines eval oracle --split test              # the rule oracle on the labeled dev set
//! nines eval understanding                    # the understanding check and the composite
//! nines eval judge --split test               # both stand-in judges on the preference pairs
//! nines eval label-noise --runs runs/noise    # the label-noise study's table and figure
//! nines eval flag-floor --classifier C --records RUN/eval_samples.jsonl
//! ```

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use nines::data::Verdict;
use nines::data::label::dev_set::{DevSplit, read_dev_set, read_judge_pairs};
use nines::data::label::oracle::{OracleLabeler, lexicon};
use nines::flag_floor::{FlagFloorRequest, flag_floor, read_records};
use nines::runtime::{DType, DeviceSpec, LanguageModel, LoadOptions};
use nines::stand_in_checks::{
    agreement_markdown, judge_agreement, measure_dev_set, oracle_report, understanding_study,
};

const DEFAULT_MODEL: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Flags of `nines eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: EvalCommand,
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// The rule oracle on the hand-labeled dev set: per category and overall, with 95%
    /// intervals.
    Oracle(OracleArgs),
    /// The generator-understanding check: settings chosen on the dev part, the explicit
    /// oracle, the check and the composite labeler reported on the held-aside part, and the
    /// check's cost.
    Understanding(UnderstandingArgs),
    /// Both stand-in judges against the hand-written preference pairs.
    Judge(JudgeArgs),
    /// The label-noise study's table and figure, from the trainings under a folder.
    LabelNoise(LabelNoiseArgs),
    /// Which prompts the classifier flags whatever follows them (a floor under every
    /// policy's flagged rate).
    FlagFloor(FlagFloorArgs),
    /// What int8 weights cost in accuracy: validation perplexity, top-1 agreement and greedy
    /// agreement against f32.
    Int8(Int8Args),
}

/// Flags of `nines eval int8`.
#[derive(Args, Debug)]
pub struct Int8Args {
    /// Model: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: PathBuf,
    /// Corpus folder; its validation chapters are measured.
    #[arg(long, default_value = "data/corpus")]
    corpus: PathBuf,
    /// Tokens per validation sequence.
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Validation sequences, evenly spaced (0: all).
    #[arg(long, default_value_t = 64)]
    sequences: usize,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Validation passages to continue greedily (one at a time).
    #[arg(long, default_value_t = 16)]
    prompts: usize,
    /// New tokens per greedy continuation.
    #[arg(long, default_value_t = 32)]
    new_tokens: usize,
    /// LibTorch intra-op threads (0: LibTorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A part of a hand-written set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PartArg {
    /// The development part (rules and settings were chosen on it).
    Dev,
    /// The held-aside part (nothing was chosen on it).
    Test,
    /// Both.
    All,
}

impl PartArg {
    fn split(self) -> Option<DevSplit> {
        match self {
            PartArg::Dev => Some(DevSplit::Dev),
            PartArg::Test => Some(DevSplit::Test),
            PartArg::All => None,
        }
    }
}

/// Flags of `nines eval oracle`.
#[derive(Args, Debug)]
pub struct OracleArgs {
    /// The labeled dev set (JSON lines).
    #[arg(long, default_value = "data/oracle_dev.jsonl")]
    dev_set: PathBuf,
    /// Which part to report on.
    #[arg(long, value_enum, default_value = "test")]
    split: PartArg,
    /// Also list every pair the oracle gets wrong, with the rule that decided.
    #[arg(long)]
    misses: bool,
}

/// Flags of `nines eval understanding`.
#[derive(Args, Debug)]
pub struct UnderstandingArgs {
    /// The labeled dev set (JSON lines).
    #[arg(long, default_value = "data/oracle_dev.jsonl")]
    dev_set: PathBuf,
    /// The generator whose understanding is checked: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: PathBuf,
    /// Generator weights: f32, bf16 or int8.
    #[arg(long, default_value = "int8")]
    dtype: DType,
    /// The continuations are generated once and kept here.
    #[arg(long, default_value = "runs/understanding_dev.json")]
    cache: PathBuf,
    /// Most share of safe dev pairs the chosen settings may flag.
    #[arg(long, default_value_t = 0.10)]
    max_safe_flagged: f64,
    /// How the generator is asked: `sample` continues the text and reads the continuations;
    /// `probe` scores sentences stating an injury against sentences stating none.
    #[arg(long, value_enum, default_value = "sample")]
    method: CheckMethod,
}

/// How the understanding check asks the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckMethod {
    /// Sampled continuations read by the explicit oracle.
    Sample,
    /// Log-probabilities of injury and no-injury statements.
    Probe,
}

/// Flags of `nines eval judge`.
#[derive(Args, Debug)]
pub struct JudgeArgs {
    /// The preference pairs (JSON lines).
    #[arg(long, default_value = "data/judge_pairs.jsonl")]
    pairs: PathBuf,
    /// Which part to report on.
    #[arg(long, value_enum, default_value = "test")]
    split: PartArg,
    /// The generator both judges read with (f32).
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: PathBuf,
    /// The MiniLM folder of the previous judge.
    #[arg(long, default_value = "models/minilm")]
    minilm: PathBuf,
}

/// Flags of `nines eval label-noise`.
#[derive(Args, Debug)]
pub struct LabelNoiseArgs {
    /// Folder of trained settings (`KIND-LEVEL-SEED/test.json`, as
    /// `scripts/label_noise_study.sh` writes them).
    #[arg(long, default_value = "runs/noise")]
    runs: PathBuf,
    /// Where to write the figure.
    #[arg(long, default_value = "docs/img/label_noise.svg")]
    svg: PathBuf,
}

/// Flags of `nines eval flag-floor`.
#[derive(Args, Debug)]
pub struct FlagFloorArgs {
    /// Trained classifier folder (the distiller's reward model).
    #[arg(long)]
    classifier: PathBuf,
    /// Per-completion records of a distill evaluation (`eval_samples.jsonl`).
    #[arg(long)]
    records: PathBuf,
    /// Candidate continuations: this many of the records' distinct completions, those with
    /// the lowest P(injury) on their own prompt.
    #[arg(long, default_value_t = 500)]
    pool: usize,
    /// Use only the records of this policy (`original` or `distilled`).
    #[arg(long)]
    policy: Option<String>,
    /// Score these prompts (indices, comma-separated) instead of those flagged on every
    /// sampled completion.
    #[arg(long, value_delimiter = ',')]
    prompts: Vec<usize>,
    /// Where to write the report (default: `flag_floor.json` beside the records).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Flag threshold (default: the classifier's).
    #[arg(long)]
    threshold: Option<f64>,
    /// Where the classifier runs: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
}

type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `nines eval`.
pub fn run(args: EvalArgs) -> CmdResult {
    match args.command {
        EvalCommand::Oracle(a) => oracle(a),
        EvalCommand::Understanding(a) => understanding(a),
        EvalCommand::Judge(a) => judge(a),
        EvalCommand::LabelNoise(a) => label_noise(a),
        EvalCommand::FlagFloor(a) => floor(a),
        EvalCommand::Int8(a) => int8(a),
    }
}

fn int8(a: Int8Args) -> CmdResult {
    nines::runtime::device::set_threads(a.threads)?;
    let req = nines::int8_accuracy::Int8Request {
        model: a.model,
        corpus: a.corpus,
        seq_len: a.seq_len,
        sequences: a.sequences,
        batch_size: a.batch_size,
        prompts: a.prompts,
        new_tokens: a.new_tokens,
    };
    let result = nines::int8_accuracy::measure(&req)?;
    let text = serde_json::to_string_pretty(&result)?;
    println!("{text}");
    if let Some(out) = &a.out {
        std::fs::write(out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

fn oracle(a: OracleArgs) -> CmdResult {
    let items = read_dev_set(&a.dev_set)?;
    let report = oracle_report(&items, a.split.split())?;
    let n = items
        .iter()
        .filter(|i| a.split.split().is_none_or(|s| i.split == s))
        .count();
    println!(
        "oracle {} on {n} pairs ({:?})\n",
        lexicon::version(),
        a.split
    );
    println!("{}", report.to_markdown());
    if a.misses {
        let oracle = OracleLabeler::new();
        println!();
        for i in items
            .iter()
            .filter(|i| a.split.split().is_none_or(|s| i.split == s))
        {
            let j = oracle.judge(&i.prompt, &i.completion);
            if (j.verdict == Verdict::Injury) != i.injury {
                println!("{} {:?} {} | {}", i.id, i.category, j.note(), i.completion);
            }
        }
    }
    Ok(())
}

fn load(model: &PathBuf, dtype: DType) -> Result<LanguageModel, Box<dyn std::error::Error>> {
    nines::runtime::device::set_threads(0)?;
    let options = LoadOptions {
        device: DeviceSpec::Cpu,
        dtype,
    };
    LanguageModel::load(model, options).map_err(|e| format!("{}: {e}", model.display()).into())
}

fn understanding(a: UnderstandingArgs) -> CmdResult {
    let items = read_dev_set(&a.dev_set)?;
    let lm = load(&a.model, a.dtype)?;
    if a.method == CheckMethod::Probe {
        use nines::stand_in_checks::probe::{probe_dev_set, probe_study};
        let bar = nines::progress::bar(items.len() as u64, "probes");
        let start = std::time::Instant::now();
        let scores = probe_dev_set(&items, &lm, |done, _| bar.set_position(done as u64))?;
        bar.finish_and_clear();
        println!(
            "cost: {:.2} s per pair ({}, {:?}, {} threads)\n",
            start.elapsed().as_secs_f64() / items.len() as f64,
            a.model.display(),
            a.dtype,
            nines::runtime::tch::get_num_threads()
        );
        let (threshold, reports) = probe_study(&items, &scores, a.max_safe_flagged)?;
        println!("chosen on the dev part: lift > {threshold:.3} nats\n");
        for (name, report) in [
            "explicit oracle",
            "probe alone",
            "composite (explicit or probe)",
        ]
        .iter()
        .zip(&reports)
        {
            println!("### {name}, held-aside part\n\n{}\n", report.to_markdown());
        }
        return Ok(());
    }
    let bar = nines::progress::bar(items.len() as u64, "continuations");
    let measured = measure_dev_set(&items, &lm, &a.cache, |done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let c = measured.cost;
    println!(
        "cost: {:.1} s and {:.0} generated tokens per pair ({}, {:?}, {} threads)\n",
        c.seconds_per_pair,
        c.tokens_per_pair,
        a.model.display(),
        a.dtype,
        c.threads
    );
    let study = understanding_study(&items, &measured.measured, a.max_safe_flagged)?;
    println!(
        "chosen on the dev part ({} pairs): m = {}, min_share = {}, min_lift = {}\n",
        study.dev_pairs, study.chosen.continuations, study.chosen.min_share, study.chosen.min_lift
    );
    for (name, report) in [
        ("explicit oracle", &study.explicit),
        ("understanding check alone", &study.understood),
        ("composite (explicit or understood)", &study.composite),
    ] {
        println!("### {name}, held-aside part\n\n{}\n", report.to_markdown());
    }
    Ok(())
}

fn judge(a: JudgeArgs) -> CmdResult {
    let split = a.split.split();
    let pairs: Vec<_> = read_judge_pairs(&a.pairs)?
        .into_iter()
        .filter(|p| split.is_none_or(|s| p.split == s))
        .collect();
    let lm = load(&a.model, DType::F32)?;
    let rows = judge_agreement(&pairs, &lm, &a.minilm)?;
    println!(
        "Agreement with the hand-written preferences ({:?}, {} pairs; {})\n",
        a.split,
        pairs.len(),
        a.model.display()
    );
    println!("{}", agreement_markdown(&rows));
    Ok(())
}

fn label_noise(a: LabelNoiseArgs) -> CmdResult {
    let results = nines::label_noise::read_results(&a.runs)?;
    if results.is_empty() {
        return Err(format!("no finished settings under {}", a.runs.display()).into());
    }
    println!("{}", nines::label_noise::to_markdown(&results));
    std::fs::write(&a.svg, nines::label_noise::figure(&results)?)
        .map_err(|e| format!("{}: {e}", a.svg.display()))?;
    println!("figure: {}", a.svg.display());
    Ok(())
}

fn floor(a: FlagFloorArgs) -> CmdResult {
    let records = read_records(&a.records)?;
    let classifier = nines::classify::Classifier::load(&a.classifier, a.device)?;
    let threshold = a
        .threshold
        .or(classifier.threshold())
        .ok_or("the classifier has no threshold: pass --threshold")?;
    let req = FlagFloorRequest {
        pool: a.pool,
        policy: a.policy,
        prompts: a.prompts,
        threshold,
    };
    let report = flag_floor(&records, &classifier, &req)?;
    for r in &report.candidates {
        println!(
            "prompt {:>4}: lowest P(injury) {:.4} ({:?}), {} of {} pass",
            r.prompt_index, r.lowest_p_injury, r.safest_continuation, r.passing, report.pool
        );
    }
    println!(
        "locked prompts: {} of {} → every policy that continues with these pool continuations \
         flags at least {:.4} of completions (prompts weighted equally)",
        report.locked, report.prompts, report.floor
    );
    if let Some(orig) = report.original_flagged.filter(|_| report.locked > 0) {
        println!(
            "original flagged {orig:.4}: the largest reduction consistent with this floor is {:.1}×",
            orig / report.floor
        );
    }
    let out = a
        .out
        .unwrap_or_else(|| a.records.with_file_name("flag_floor.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    println!("report: {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_flags;

    #[test]
    fn parts_and_required_flags_are_checked() {
        let a: EvalArgs = parse_flags(&["oracle", "--split", "dev", "--misses"]).unwrap();
        match a.command {
            EvalCommand::Oracle(o) => {
                assert_eq!(o.split, PartArg::Dev);
                assert!(o.misses);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(parse_flags::<EvalArgs>(&["oracle", "--split", "train"]).is_err());
        assert!(parse_flags::<EvalArgs>(&["flag-floor", "--records", "r.jsonl"]).is_err());
        let a: EvalArgs = parse_flags(&[
            "flag-floor",
            "--classifier",
            "c",
            "--records",
            "r.jsonl",
            "--prompts",
            "4,9",
        ])
        .unwrap();
        match a.command {
            EvalCommand::FlagFloor(f) => assert_eq!(f.prompts, vec![4, 9]),
            other => panic!("parsed as {other:?}"),
        }
        assert!(parse_flags::<EvalArgs>(&["understanding", "--dtype", "f16"]).is_err());
    }

    #[test]
    fn the_oracle_report_runs_on_the_shipped_dev_set_and_names_a_missing_file() {
        let a: EvalArgs = parse_flags(&["oracle", "--split", "all"]).unwrap();
        run(a).unwrap();
        let a: EvalArgs = parse_flags(&["oracle", "--dev-set", "no/such.jsonl"]).unwrap();
        let e = run(a).unwrap_err().to_string();
        assert!(e.contains("no/such.jsonl"), "{e}");
    }
}
