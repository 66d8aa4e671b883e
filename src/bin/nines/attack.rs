//! `nines attack`: find the classifier's failures on purpose, and train them away.
//!
//! ```text
//! # Which tokens drive P(injury) of one pair (integrated gradients by default).
//! nines attack saliency --prompt "The guard turned." --completion "He stabbed the guard in the face."
//! # Does deleting the 3 most salient tokens lower P(injury) more than deleting 3 random ones?
//! nines attack faithfulness --pairs 40
//! # The attacks on flagged injuries of the hand-labeled dev set's test part; failures as JSONL.
//! nines attack run --seeds 10 --out runs/attack
//! # Adversarial training: measure, R rounds of attack → label → retrain, measure again.
//! nines attack train --rounds 2 --out runs/attack-train
//! ```

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use nines::attack::data::{
    CorpusData, CorpusPair, SeedPick, corpus_pairs, dev_set_pairs, flagged_seeds, prompts,
};
use nines::attack::measure::comparison_markdown;
use nines::attack::outcome::write_failures;
use nines::attack::study::{StudyConfig, StudyData, run_study};
use nines::attack::{
    AttackKind, AttackReport, AttackSuite, Budget, CompositeOracle, ExplicitOracle, Oracle,
    ParaphraseConfig, PromptSearchConfig, SaliencyMethod, SubstitutionConfig, Victim, faithfulness,
    run_suite, saliency,
};
use nines::classify::Classifier;
use nines::data::corpus::Corpus;
use nines::data::label::understanding::{
    CompositeLabeler, UnderstandingCheck, UnderstandingConfig,
};
use nines::data::prompt::PromptConfig;
use nines::data::split::Split;
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

type Error = Box<dyn std::error::Error>;

/// Flags of `nines attack`.
#[derive(Args, Debug)]
pub struct AttackArgs {
    #[command(subcommand)]
    command: AttackCommand,
}

#[derive(Subcommand, Debug)]
enum AttackCommand {
    /// Per-token attribution of one pair's P(injury).
    Saliency(SaliencyArgs),
    /// The saliency faithfulness check on flagged injuries of the dev set's test part.
    Faithfulness(FaithfulnessArgs),
    /// The attacks on flagged injuries of the dev set's test part (prompt search draws
    /// prompts from the corpus's test chapters).
    Run(RunArgs),
    /// Adversarial training, measured before and after on held-out seeds and test pairs.
    Train(TrainArgs),
}

/// How attributions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Integrated gradients.
    Ig,
    /// Gradient × input.
    Gxi,
}

/// Which oracle confirms failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OracleChoice {
    /// The explicit rule oracle.
    Explicit,
    /// Explicit oracle OR the generator's understanding (slow: continuations per query).
    Composite,
}

/// An attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttackChoice {
    /// Word substitutions in the completion.
    Substitution,
    /// The generator's rewrites of the completion.
    Paraphrase,
    /// Prompts from the corpus, then edited, for a fixed completion.
    PromptSearch,
}

/// Flags shared by every subcommand: the classifier and the machine.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Saved classifier folder (with a threshold). Default: the default run's classifier after
    /// its active-learning round (`make demo` or `nines run --until active` writes it).
    #[arg(long, default_value = "runs/default/classifier_active")]
    pub classifier: PathBuf,
    /// Device.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// LibTorch threads (0: LibTorch's default).
    #[arg(long, default_value_t = 2)]
    pub threads: i32,
}

/// Flags of the corpus the seeds and pairs come from.
#[derive(Args, Debug)]
pub struct CorpusArgs {
    /// Corpus file or folder.
    #[arg(long, default_value = "data/corpus")]
    pub corpus: PathBuf,
    /// Sentences between prompt windows (1: every sentence of the book is a completion once).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Hand-labeled pairs whose injuries are the attack seeds: the dev part trains, the test
    /// part is held out.
    #[arg(long, default_value = "data/oracle_dev.jsonl")]
    pub dev_set: PathBuf,
}

impl CorpusArgs {
    /// The dev set's (dev part, test part).
    fn seed_pairs(&self) -> Result<(Vec<CorpusPair>, Vec<CorpusPair>), Error> {
        Ok(dev_set_pairs(&self.dev_set)?)
    }
}

/// Flags of the attacks.
#[derive(Args, Debug)]
pub struct SuiteArgs {
    /// Generator (paraphrases, fluency filter, composite oracle).
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    pub generator: PathBuf,
    /// Generator weights: int8 or f32.
    #[arg(long, default_value = "int8")]
    pub dtype: DType,
    /// Oracle that confirms failures.
    #[arg(long, value_enum, default_value = "explicit")]
    pub oracle: OracleChoice,
    /// Attacks to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "substitution,paraphrase,prompt-search"
    )]
    pub attacks: Vec<AttackChoice>,
    /// Classifier queries per seed and attack.
    #[arg(long, default_value_t = Budget::default().classifier_queries)]
    pub budget_queries: u64,
    /// Oracle queries per seed and attack.
    #[arg(long, default_value_t = Budget::default().oracle_queries)]
    pub budget_oracle: u64,
    /// Substitution: hypotheses kept per step (1 = greedy).
    #[arg(long, default_value_t = SubstitutionConfig::default().beam_width)]
    pub beam: usize,
    /// Substitution: candidates scored per hypothesis and step.
    #[arg(long, default_value_t = SubstitutionConfig::default().candidates)]
    pub candidates: usize,
    /// Substitution: salient words considered per step.
    #[arg(long, default_value_t = SubstitutionConfig::default().positions)]
    pub positions: usize,
    /// Substitution: most words changed.
    #[arg(long, default_value_t = SubstitutionConfig::default().max_edits)]
    pub max_edits: usize,
    /// Fluency filter: largest drop of the generator's mean log-probability per token (nats).
    #[arg(long, default_value_t = 1.0)]
    pub max_logprob_drop: f32,
    /// Turn the fluency filter off.
    #[arg(long)]
    pub no_fluency: bool,
    /// Paraphrase: rewrites per generator call.
    #[arg(long, default_value_t = ParaphraseConfig::default().rewrites_per_call)]
    pub rewrites: usize,
    /// Paraphrase: generator calls per seed.
    #[arg(long, default_value_t = ParaphraseConfig::default().calls)]
    pub paraphrase_calls: usize,
    /// Prompt search: corpus prompts scored per seed.
    #[arg(long, default_value_t = PromptSearchConfig::default().pool_prompts)]
    pub pool_prompts: usize,
    /// Prompt search: lowest-scoring prompts then edited by substitution.
    #[arg(long, default_value_t = PromptSearchConfig::default().edit_best)]
    pub edit_best: usize,
    /// Seed of sampling and draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl SuiteArgs {
    fn suite(&self) -> AttackSuite {
        let drop = (!self.no_fluency).then_some(self.max_logprob_drop);
        let substitution = SubstitutionConfig {
            beam_width: self.beam,
            candidates: self.candidates,
            positions: self.positions,
            max_edits: self.max_edits,
            max_logprob_drop: drop,
            ..SubstitutionConfig::default()
        };
        AttackSuite {
            attacks: self
                .attacks
                .iter()
                .map(|a| match a {
                    AttackChoice::Substitution => AttackKind::Substitution,
                    AttackChoice::Paraphrase => AttackKind::Paraphrase,
                    AttackChoice::PromptSearch => AttackKind::PromptSearch,
                })
                .collect(),
            budget: Budget {
                classifier_queries: self.budget_queries,
                oracle_queries: self.budget_oracle,
            },
            paraphrase: ParaphraseConfig {
                rewrites_per_call: self.rewrites,
                calls: self.paraphrase_calls,
                seed: self.seed,
                ..ParaphraseConfig::default()
            },
            prompt_search: PromptSearchConfig {
                pool_prompts: self.pool_prompts,
                edit_best: self.edit_best,
                substitution: SubstitutionConfig {
                    max_edits: self.max_edits.min(2),
                    ..substitution.clone()
                },
                seed: self.seed,
            },
            substitution,
        }
    }

    fn generator(
        &self,
        suite: &AttackSuite,
        device: DeviceSpec,
    ) -> Result<Option<LanguageModel>, Error> {
        if !suite.needs_generator() && self.oracle == OracleChoice::Explicit {
            return Ok(None);
        }
        Ok(Some(LanguageModel::load(
            &self.generator,
            LoadOptions {
                device,
                dtype: self.dtype,
            },
        )?))
    }
}

/// Flags of `nines attack saliency`.
#[derive(Args, Debug)]
pub struct SaliencyArgs {
    #[command(flatten)]
    models: ModelArgs,
    /// The prompt.
    #[arg(long)]
    prompt: String,
    /// The completion.
    #[arg(long)]
    completion: String,
    /// Attribution method.
    #[arg(long, value_enum, default_value = "ig")]
    method: Method,
    /// Integrated-gradient steps.
    #[arg(long, default_value_t = 16)]
    steps: usize,
    /// Write the saliency map as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Flags of `nines attack faithfulness`.
#[derive(Args, Debug)]
pub struct FaithfulnessArgs {
    #[command(flatten)]
    models: ModelArgs,
    #[command(flatten)]
    corpus: CorpusArgs,
    /// Flagged injuries checked.
    #[arg(long, default_value_t = 40)]
    pairs: usize,
    /// Attribution method.
    #[arg(long, value_enum, default_value = "ig")]
    method: Method,
    /// Integrated-gradient steps.
    #[arg(long, default_value_t = 16)]
    steps: usize,
    /// Tokens deleted.
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// Random deletions per pair.
    #[arg(long, default_value_t = 3)]
    draws: usize,
    /// Seed of the random deletions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Flags of `nines attack run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    models: ModelArgs,
    #[command(flatten)]
    corpus: CorpusArgs,
    #[command(flatten)]
    suite: SuiteArgs,
    /// Flagged injuries of the dev set's test part attacked.
    #[arg(long, default_value_t = 10)]
    seeds: usize,
    /// Output folder: failures.jsonl, report.json.
    #[arg(long, default_value = "runs/attack")]
    out: PathBuf,
}

/// Flags of `nines attack train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    models: ModelArgs,
    #[command(flatten)]
    corpus: CorpusArgs,
    #[command(flatten)]
    suite: SuiteArgs,
    /// Rounds of attack → label → retrain.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Flagged injuries of the dev set's dev part attacked in each round.
    #[arg(long, default_value_t = 12)]
    train_seeds: usize,
    /// Flagged injuries of the dev set's test part measured on, before and after.
    #[arg(long, default_value_t = 10)]
    held_out_seeds: usize,
    /// Training pairs of the book retrained on each round.
    #[arg(long, default_value_t = 600)]
    train_pairs: usize,
    /// Largest share of injuries among the training pairs.
    #[arg(long, default_value_t = 0.1)]
    train_positive_share: f64,
    /// Validation pairs of the book the threshold is chosen on (with the dev set's dev part).
    #[arg(long, default_value_t = 400)]
    valid_pairs: usize,
    /// Test pairs of the book for the in-distribution figures (the dev set's test part is
    /// measured as well).
    #[arg(long, default_value_t = 400)]
    test_pairs: usize,
    /// Times each adversarial example appears in the training data.
    #[arg(long, default_value_t = 4)]
    repeat: usize,
    /// Learning rate of each round's fine-tuning pass.
    #[arg(long, default_value_t = 1e-5)]
    learning_rate: f64,
    /// A pipeline run folder (`runs/default`, whose `dataset` stage has run): retrain on the
    /// pairs its classifier stage trained on, choose the threshold again on the validation
    /// pairs its threshold was chosen on, and measure on its test pairs, so that before and
    /// after differ only by adversarial training. Without it, samples of the book's pairs
    /// stand in (`--train-pairs`, `--valid-pairs`, `--test-pairs`).
    #[arg(long)]
    run: Option<PathBuf>,
    /// Each epoch shows each injury this many times on average. Default: the run's
    /// `classifier.train.oversample_positives` with `--run`, else 1.
    #[arg(long)]
    oversample: Option<f64>,
    /// Output folder: comparison.json, report.md, adversarial.jsonl, failures_{before,after}.jsonl.
    #[arg(long, default_value = "runs/attack-train")]
    out: PathBuf,
    /// Save the adversarially trained classifier here.
    #[arg(long)]
    save: Option<PathBuf>,
}

/// Runs `nines attack`.
pub fn run(args: AttackArgs) -> Result<(), Error> {
    match args.command {
        AttackCommand::Saliency(a) => run_saliency(a),
        AttackCommand::Faithfulness(a) => run_faithfulness(a),
        AttackCommand::Run(a) => run_attacks(a),
        AttackCommand::Train(a) => run_train(a),
    }
}

fn method(m: Method, steps: usize) -> SaliencyMethod {
    match m {
        Method::Ig => SaliencyMethod::IntegratedGradients { steps },
        Method::Gxi => SaliencyMethod::GradientXInput,
    }
}

fn load_classifier(m: &ModelArgs) -> Result<Classifier, Error> {
    nines::runtime::device::set_threads(m.threads)?;
    Ok(Classifier::load(&m.classifier, m.device)?)
}

fn load_corpus(c: &CorpusArgs) -> Result<CorpusData, Error> {
    let corpus = Corpus::load(&c.corpus)?;
    Ok(corpus_pairs(
        &corpus,
        &PromptConfig::default(),
        &mut ExplicitOracle::new(),
    )?)
}

/// The settings the pipeline run in `dir` recorded (`config.toml`), with `run_dir` set to
/// `dir` wherever the run was made.
fn run_settings(dir: &Path) -> Result<nines::pipeline::PipelineConfig, Error> {
    let mut config = nines::pipeline::PipelineConfig::from_toml_file(&dir.join("config.toml"))?;
    config.run_dir = dir.to_path_buf();
    Ok(config)
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)?)?;
    Ok(())
}

fn run_saliency(a: SaliencyArgs) -> Result<(), Error> {
    let classifier = load_classifier(&a.models)?;
    let victim = Victim::new(&classifier)?;
    let s = saliency(&victim, &a.prompt, &a.completion, method(a.method, a.steps))?;
    println!(
        "P(injury) {:.4} (threshold {:.4})",
        s.probability,
        victim.threshold()
    );
    for t in &s.tokens {
        println!(
            "{:>8.3}  {:<10} {}",
            t.score,
            format!("{:?}", t.part).to_lowercase(),
            t.text
        );
    }
    if let Some(p) = &a.json {
        write_json(p, &s)?;
    }
    Ok(())
}

fn run_faithfulness(a: FaithfulnessArgs) -> Result<(), Error> {
    let classifier = load_classifier(&a.models)?;
    let victim = Victim::new(&classifier)?;
    let (_, held) = a.corpus.seed_pairs()?;
    let (seeds, pick) = flagged_seeds(&victim, &mut ExplicitOracle::new(), &held, a.pairs)?;
    print_pick("dev set's test part", &pick);
    let pairs: Vec<(&str, &str)> = seeds
        .iter()
        .map(|s| (s.prompt.as_str(), s.completion.as_str()))
        .collect();
    let r = faithfulness(
        &victim,
        &pairs,
        method(a.method, a.steps),
        a.k,
        a.draws,
        a.seed,
    )?;
    println!(
        "{:?}: deleting the {} most salient tokens lowered P(injury) more than deleting {} random ones \
         (mean of {} draws) on {}/{} flagged test injuries ({:.0}%)",
        r.method,
        r.k,
        r.k,
        r.random_draws,
        r.wins,
        r.pairs,
        100.0 * r.win_rate
    );
    Ok(())
}

fn oracle_for<'a>(
    choice: OracleChoice,
    generator: Option<&'a LanguageModel>,
) -> Result<Box<dyn Oracle + 'a>, Error> {
    Ok(match (choice, generator) {
        (OracleChoice::Explicit, _) => Box::new(ExplicitOracle::new()),
        (OracleChoice::Composite, Some(lm)) => {
            let sampling = GenerateConfig {
                max_new_tokens: 32,
                stop_at_sentence_end: true,
                temperature: 1.0,
                top_p: 0.95,
                ..GenerateConfig::default()
            };
            let check = UnderstandingCheck::new(
                nines::sampler::LmSampler::new(lm, sampling),
                UnderstandingConfig::default(),
            )?;
            Box::new(CompositeOracle::new(CompositeLabeler::new(check)))
        }
        (OracleChoice::Composite, None) => {
            return Err("the composite oracle needs a generator".into());
        }
    })
}

fn print_pick(source: &str, p: &SeedPick) {
    println!(
        "seeds from the {source}: {} injuries, {} read whole by the classifier, {} of {} scored flagged, \
         {} of those injuries to the oracle too",
        p.injuries, p.fit, p.flagged, p.scored, p.oracle_agrees
    );
}

fn print_report(r: &AttackReport) {
    println!(
        "{:<14} {}/{} seeds failed ({} given); {} classifier and {} oracle queries, {} generator texts; \
         {:.2} per 1,000 classifier queries, {:.3} per oracle query; first failure after {}; {:.0} s",
        r.attack.as_str(),
        r.failures,
        r.usable_seeds,
        r.seeds,
        r.spent.classifier_queries,
        r.spent.oracle_queries,
        r.spent.generator_calls,
        r.per_1000_classifier_queries,
        r.per_oracle_query,
        r.first_failure_seconds
            .map_or("—".to_string(), |s| format!("{s:.1} s")),
        r.seconds
    );
}

fn run_attacks(a: RunArgs) -> Result<(), Error> {
    let classifier = load_classifier(&a.models)?;
    let victim = Victim::new(&classifier)?;
    let suite = a.suite.suite();
    let lm = a.suite.generator(&suite, a.models.device)?;
    let mut oracle = oracle_for(a.suite.oracle, lm.as_ref())?;
    let data = load_corpus(&a.corpus)?;
    let (_, held) = a.corpus.seed_pairs()?;
    let (seeds, pick) = flagged_seeds(&victim, oracle.as_mut(), &held, a.seeds)?;
    print_pick("dev set's test part", &pick);
    let pool = prompts(data.split(Split::Test));
    let reports = run_suite(&victim, lm.as_ref(), oracle.as_mut(), &seeds, &pool, &suite)?;
    for r in &reports {
        print_report(r);
    }
    write_failures(
        &a.out.join("failures.jsonl"),
        reports.iter().flat_map(|r| r.failures()),
    )?;
    write_json(&a.out.join("report.json"), &reports)?;
    println!("wrote {}", a.out.display());
    Ok(())
}

fn run_train(a: TrainArgs) -> Result<(), Error> {
    let mut classifier = load_classifier(&a.models)?;
    let suite = a.suite.suite();
    let lm = a.suite.generator(&suite, a.models.device)?;
    let mut oracle = oracle_for(a.suite.oracle, lm.as_ref())?;
    let corpus = load_corpus(&a.corpus)?;
    for split in [Split::Train, Split::Validation, Split::Test] {
        let pairs = corpus.split(split);
        let injuries = pairs.iter().filter(|p| p.example.label).count();
        println!(
            "book {} chapters: {} pairs, {injuries} injuries",
            split.as_str(),
            pairs.len()
        );
    }
    let (dev, dev_test) = a.corpus.seed_pairs()?;
    let run = a.run.as_deref().map(run_settings).transpose()?;
    let own = match &run {
        Some(settings) => {
            let own = nines::pipeline::classifier_data(settings)?;
            for (name, set) in [
                ("training", &own.train),
                ("validation", &own.validation),
                ("test", &own.test),
            ] {
                let injuries = set.iter().filter(|e| e.label).count();
                println!("run's {name} pairs: {}, {injuries} injuries", set.len());
            }
            Some(own)
        }
        None => None,
    };
    let oversample = a.oversample.unwrap_or_else(|| {
        run.as_ref()
            .map_or(1.0, |c| c.classifier.train.oversample_positives)
    });
    let config = StudyConfig {
        suite,
        rounds: a.rounds,
        train_seeds: a.train_seeds,
        held_out_seeds: a.held_out_seeds,
        train_pairs: a.train_pairs,
        train_positive_share: a.train_positive_share,
        valid_pairs: a.valid_pairs,
        test_pairs: a.test_pairs,
        repeat: a.repeat,
        learning_rate: a.learning_rate,
        oversample_positives: oversample,
        seed: a.suite.seed,
    };
    let data = StudyData {
        corpus: &corpus,
        own: own.as_ref(),
        dev: &dev,
        dev_test: &dev_test,
    };
    let study = run_study(&mut classifier, lm.as_ref(), oracle.as_mut(), data, &config)?;
    print_pick("dev set's dev part", &study.train_pick);
    print_pick("dev set's test part", &study.held_out_pick);
    let c = &study.comparison;
    println!("before:");
    c.before.attacks.iter().for_each(print_report);
    for r in &study.rounds {
        println!(
            "round {}: {} seeds, failures {:?}, {} adversarial examples, threshold {:?}, attacks {:.0} s, training {:.0} s",
            r.round,
            r.seeds,
            r.failures,
            r.adversarial_examples,
            r.threshold,
            r.attack_seconds,
            r.train_seconds
        );
    }
    println!("after:");
    c.after.attacks.iter().for_each(print_report);
    let (db, da) = &study.dev_test;
    let mut md = comparison_markdown(c);
    md.push_str(&format!(
        "Hand-labeled dev set, test part ({} pairs, {} injuries): AUROC {:.4} → {:.4}; \
         safe rejection at FNR {:.2} {:.1}% → {:.1}%.\n",
        db.pairs,
        db.positives,
        db.auroc,
        da.auroc,
        db.target_fnr,
        100.0 * db.safe_rejection_at_target,
        100.0 * da.safe_rejection_at_target
    ));
    println!("\n{md}");
    let out = &a.out;
    std::fs::create_dir_all(out)?;
    write_failures(
        &out.join("failures_before.jsonl"),
        c.before.attacks.iter().flat_map(|r| r.failures()),
    )?;
    write_failures(
        &out.join("failures_after.jsonl"),
        c.after.attacks.iter().flat_map(|r| r.failures()),
    )?;
    let lines: Vec<String> = study
        .examples
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<_, _>>()?;
    std::fs::write(out.join("adversarial.jsonl"), lines.join("\n") + "\n")?;
    std::fs::write(out.join("report.md"), &md)?;
    write_json(&out.join("comparison.json"), c)?;
    write_json(&out.join("rounds.json"), &study.rounds)?;
    write_json(&out.join("dev_test.json"), &study.dev_test)?;
    if let Some(dir) = &a.save {
        classifier.save(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_build_the_suite() {
        let a: RunArgs = crate::parse_flags(&[
            "--attacks",
            "substitution,prompt-search",
            "--budget-queries",
            "50",
            "--no-fluency",
            "--beam",
            "1",
        ])
        .unwrap();
        let s = a.suite.suite();
        assert_eq!(
            s.attacks,
            [AttackKind::Substitution, AttackKind::PromptSearch]
        );
        assert_eq!(s.budget.classifier_queries, 50);
        assert_eq!(s.substitution.max_logprob_drop, None);
        assert_eq!(s.substitution.beam_width, 1);
        assert!(!s.needs_generator());
        assert!(crate::parse_flags::<RunArgs>(&["--attacks", "hotflip"]).is_err());
    }
}
