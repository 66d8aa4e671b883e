//! The generator-understanding check on the hand-labeled dev set: generates the continuations
//! once (cached in `runs/understanding_dev.json`), chooses `m` and the thresholds on the dev
//! part, and reports the explicit oracle and the composite labeler on the held-aside part,
//! with the check's cost.
//!
//! ```text
//! cargo run --release --example understanding_dev -- [--model PATH] [--dtype f32|int8]
//! ```

use std::time::Instant;

use anyhow::Context;
use nines::data::Verdict;
use nines::data::complete::{BoxError, CompletionSampler, GeneratorInfo, SampledCompletion};
use nines::data::label::dev_set::{DevItem, DevSplit, evaluate, read_dev_set};
use nines::data::label::oracle::OracleLabeler;
use nines::data::label::understanding::{
    Understanding, UnderstandingCheck, UnderstandingConfig, choose_settings,
};
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};
use nines::sampler::LmSampler;

/// Counts the tokens of what the wrapped sampler returns.
struct Counting<'a> {
    inner: LmSampler<'a>,
    lm: &'a LanguageModel,
    tokens: usize,
}

impl CompletionSampler for Counting<'_> {
    fn sample(
        &mut self,
        prompts: &[&str],
        k: usize,
        seed: u64,
    ) -> Result<Vec<Vec<SampledCompletion>>, BoxError> {
        let out = self.inner.sample(prompts, k, seed)?;
        for s in out.iter().flatten() {
            self.tokens += self.lm.tokenizer().encode_with(&s.text, false)?.len();
        }
        Ok(out)
    }

    fn generator_info(&self) -> GeneratorInfo {
        self.inner.generator_info()
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let model =
        flag("--model").unwrap_or_else(|| "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".into());
    let dtype = match flag("--dtype").as_deref() {
        Some("f32") => DType::F32,
        _ => DType::Int8,
    };
    nines::runtime::device::set_threads(0)?;
    let items = read_dev_set("data/oracle_dev.jsonl")?;
    let cache = std::path::Path::new("runs/understanding_dev.json");
    let measured: Vec<Understanding> = match std::fs::read_to_string(cache) {
        Ok(text) => serde_json::from_str(&text).context("runs/understanding_dev.json")?,
        Err(_) => {
            let lm = LanguageModel::load(
                &model,
                LoadOptions {
                    device: DeviceSpec::Cpu,
                    dtype,
                },
            )?;
            let settings = GenerateConfig {
                max_new_tokens: 32,
                stop_at_sentence_end: true,
                temperature: 1.0,
                top_p: 0.95,
                ..GenerateConfig::default()
            };
            let sampler = Counting {
                inner: LmSampler::new(&lm, settings),
                lm: &lm,
                tokens: 0,
            };
            let mut check = UnderstandingCheck::new(sampler, UnderstandingConfig::default())?;
            let start = Instant::now();
            let mut out = Vec::new();
            for batch in items.chunks(8) {
                let pairs: Vec<(&str, &str)> = batch
                    .iter()
                    .map(|i| (i.prompt.as_str(), i.completion.as_str()))
                    .collect();
                out.extend(check.measure(&pairs)?);
                eprint!("\r{} of {} pairs", out.len(), items.len());
            }
            let secs = start.elapsed().as_secs_f64();
            eprintln!();
            println!(
                "cost: {:.1} s and {:.0} generated tokens per pair ({} continuations of the pair \
                 and of its prompt, {model}, {dtype:?}, {} threads)",
                secs / items.len() as f64,
                check_tokens(&check) as f64 / items.len() as f64,
                UnderstandingConfig::default().continuations,
                nines::runtime::tch::get_num_threads(),
            );
            std::fs::create_dir_all("runs")?;
            std::fs::write(cache, serde_json::to_string(&out)?)?;
            out
        }
    };
    let oracle = OracleLabeler::new();
    let explicit: Vec<Verdict> = items
        .iter()
        .map(|i| oracle.judge(&i.prompt, &i.completion).verdict)
        .collect();
    let part = |split: DevSplit| -> Vec<usize> {
        (0..items.len())
            .filter(|&k| items[k].split == split)
            .collect()
    };
    let (dev, test) = (part(DevSplit::Dev), part(DevSplit::Test));
    let pick = |idx: &[usize]| -> (Vec<bool>, Vec<Verdict>, Vec<Understanding>) {
        (
            idx.iter().map(|&k| items[k].injury).collect(),
            idx.iter().map(|&k| explicit[k]).collect(),
            idx.iter().map(|&k| measured[k].clone()).collect(),
        )
    };
    let (inj, exp, mea) = pick(&dev);
    let chosen = choose_settings(&inj, &exp, &mea, &[2, 4, 8], 0.10)?;
    println!(
        "chosen on the dev part ({} pairs): m = {}, min_share = {}, min_lift = {}\n",
        dev.len(),
        chosen.continuations,
        chosen.min_share,
        chosen.min_lift
    );
    let composite = |k: usize| {
        if explicit[k] == Verdict::Injury
            || chosen.understood(&measured[k].first(chosen.continuations))
        {
            Verdict::Injury
        } else {
            explicit[k]
        }
    };
    let index: std::collections::HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(k, i)| (i.id.as_str(), k))
        .collect();
    let test_items: Vec<&DevItem> = test.iter().map(|&k| &items[k]).collect();
    let understood_only = |i: &DevItem| {
        let k = index[i.id.as_str()];
        if chosen.understood(&measured[k].first(chosen.continuations)) {
            Verdict::Injury
        } else {
            Verdict::NoInjury
        }
    };
    for (name, report) in [
        (
            "explicit oracle",
            evaluate(&test_items, |i| explicit[index[i.id.as_str()]])?,
        ),
        (
            "understanding check alone",
            evaluate(&test_items, understood_only)?,
        ),
        (
            "composite (explicit or understood)",
            evaluate(&test_items, |i| composite(index[i.id.as_str()]))?,
        ),
    ] {
        println!("### {name}, held-aside part ({} pairs)\n", test_items.len());
        println!("{}\n", report.to_markdown());
    }
    Ok(())
}

fn check_tokens(check: &UnderstandingCheck<Counting<'_>>) -> usize {
    check.sampler().tokens
}
