//! `report.md`: the run's numbers, each with its confidence interval and sample size, and
//! its figures (SVG, in `img/`), rendered from the stages' typed outputs, one function per
//! section.

use std::fmt::Write as _;
use std::path::Path;

use super::estimates::{Headline, Policy, Regime, WinRateEstimator};
use super::outputs::{
    ActiveOutput, ClassifierOutput, DistillOutput, FilterOutput, FinetuneOutput, ReportOutput,
    StageOutput,
};
use super::{Pipeline, PipelineError, Stage, StageRecord, plot, write_atomic};

/// A share as `v%`, `–` when unknown.
fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.2}%", 100.0 * v + 0.0)
    } else {
        "–".into()
    }
}

/// A number with `digits` decimals; `+ 0.0` turns a negative zero into zero ("-0.00" reads
/// as a sign that is not there).
fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{:.digits$}", v + 0.0)
    } else {
        "–".into()
    }
}

/// The finished stages' outputs, by stage.
struct Outputs<'a> {
    done: &'a [(Stage, StageRecord)],
}

impl<'a> Outputs<'a> {
    fn find<T>(&self, pick: impl Fn(&'a StageOutput) -> Option<&'a T>) -> Option<&'a T> {
        self.done.iter().find_map(|(_, r)| pick(&r.output))
    }
}

fn short(regime: Regime) -> &'static str {
    match regime {
        Regime::InjuryProne => "prone",
        Regime::Uniform => "uniform",
    }
}

/// `v% [lo, hi]` of a share.
fn share(e: &nines_estimate::Estimate) -> String {
    format!(
        "{:.2}% [{:.2}, {:.2}]",
        100.0 * e.value + 0.0,
        100.0 * e.ci.0 + 0.0,
        100.0 * e.ci.1 + 0.0
    )
}

/// The leading table: every rate of every policy in both regimes, with 95% intervals and n,
/// then how to read it and the nines line.
fn headline(md: &mut String, h: &Headline, c: &super::PipelineConfig) -> Result<(), PipelineError> {
    let _ = writeln!(md, "## Headline\n");
    let _ = writeln!(
        md,
        "Test prompts come from the corpus's test chapters only, in two strata: the \
         **injury-prone** stratum ({} of {} windows: the book's next sentence is an injury, or \
         the window is in the top {:.0}% by injury-lexicon score) and the rest. The injury-prone \
         regime is that stratum; the uniform regime is every test window, estimated from both \
         strata through their inclusion probabilities (Hájek weights `1/π`; `ess` is Kish's \
         effective sample size). {} completions per prompt and policy; intervals are 95%, \
         clustered by prompt.\n",
        h.strata.injury_prone,
        h.strata.windows,
        100.0 * c.data.injury_prone_lexicon_share,
        h.completions_per_prompt,
    );
    let _ = writeln!(
        md,
        "| regime | policy | injury rate (oracle) | flagged by the classifier | refused | win rate vs unfiltered (stand-in judge) |\n|---|---|---|---|---|---|"
    );
    for regime in Regime::ALL {
        for policy in Policy::ALL {
            let Some(r) = h.row(regime, policy) else {
                continue;
            };
            let injury = format!(
                "{} (n = {}, {} prompts{})",
                share(&r.injury.estimate),
                r.injury.estimate.n,
                r.injury.prompts,
                if regime == Regime::Uniform {
                    format!(", ess {:.0}", r.injury.ess)
                } else {
                    String::new()
                }
            );
            let flagged = match (&r.flagged, policy) {
                (Some(f), _) => format!("{} (n = {})", share(&f.estimate), f.estimate.n),
                (None, Policy::Filtered) => "0 by construction".into(),
                (None, _) => "–".into(),
            };
            let refused = match &r.refused {
                Some(f) => format!("{} (n = {})", share(&f.estimate), f.prompts),
                None => "0".into(),
            };
            let win = match &r.win_rate {
                Some(w) => format!(
                    "{:.3} [{:.3}, {:.3}] (n = {}, {} judged, {})",
                    w.estimate.value,
                    w.estimate.ci.0,
                    w.estimate.ci.1,
                    w.estimate.n,
                    w.judged,
                    match w.estimator {
                        WinRateEstimator::Efficient => "efficient",
                        WinRateEstimator::Naive => "naive",
                    }
                ),
                None if policy == Policy::Unfiltered => "½ by definition".into(),
                None => "–".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {injury} | {flagged} | {refused} | {win} |",
                regime.name(),
                policy.name()
            );
        }
    }
    let _ = writeln!(
        md,
        "\nInjury rates are the mean over answered prompts of each prompt's share of oracle-labeled \
         injuries (the filter's: the returned completion of each of {} independent runs), Wilson intervals at \
         the cluster-robust effective sample size. A refused prompt loses in the filter's win rate \
         (efficient estimator: a pair whose unfiltered completion the classifier accepts counts \
         1/2 unjudged, the others are judged); the distilled policy's win rate is the mean \
         judgment over its first completion of each prompt.\n",
        h.completions_per_prompt
    );
    for policy in [Policy::Unfiltered, Policy::Filtered, Policy::Distilled] {
        let Some(r) = h.row(Regime::InjuryProne, policy) else {
            continue;
        };
        let line = &r.nines;
        let next = line.trials_for_next_nine.map_or(
            "more completions at this rate would not show".to_string(),
            |t| format!("{t} completions at this rate would show"),
        );
        let _ = writeln!(
            md,
            "The {} policy, injury-prone regime: {:.0} injuries per 10,000 completions, at most \
             {:.0} at 95% (one-sided Clopper-Pearson at the effective size {:.0}) — {:.2} nines \
             of reliability; {next} one more.\n",
            policy.name(),
            line.per_10k,
            line.upper_per_10k,
            r.injury.n_eff,
            line.nines,
        );
    }
    Ok(())
}

/// Writes `report.md` (and `img/*.svg`) from the finished stages' outputs.
pub(super) fn write(
    p: &Pipeline,
    done: &[(Stage, StageRecord)],
) -> Result<ReportOutput, PipelineError> {
    let img = p.run.path("img");
    std::fs::create_dir_all(&img).map_err(|e| PipelineError::io(&img, e))?;
    let out = Outputs { done };
    let mut md = String::new();
    intro(&mut md, p);
    if let Some(f) = out.find(|o| match o {
        StageOutput::Finetune(f) => Some(f),
        _ => None,
    }) {
        finetune_section(&mut md, p, f);
    }
    if let Some(h) = out.find(|o| match o {
        StageOutput::Estimates(h) => Some(h),
        _ => None,
    }) {
        headline(&mut md, h, &p.config)?;
        headline_figures(&mut md, &img, h)?;
    }
    let active = out.find(|o| match o {
        StageOutput::Active(a) => Some(a),
        _ => None,
    });
    if let Some(c) = out.find(|o| match o {
        StageOutput::Classifier(c) => Some(c),
        _ => None,
    }) {
        classifier_section(&mut md, &img, p, c, active)?;
    }
    if let Some(a) = active {
        active_section(&mut md, p, a);
    }
    if let Some(f) = out.find(|o| match o {
        StageOutput::Filter(f) => Some(f),
        _ => None,
    }) {
        filter_section(&mut md, &img, p, f)?;
    }
    if let Some(d) = out.find(|o| match o {
        StageOutput::Distill(d) => Some(d),
        _ => None,
    }) {
        distill_section(&mut md, &img, p, d)?;
    }
    judge_section(&mut md);
    stages_section(&mut md, done);
    let report = p.run.path("report.md");
    write_atomic(&report, md.as_bytes())?;
    Ok(ReportOutput { report })
}

fn svg(img: &Path, name: &str, text: String) -> Result<(), PipelineError> {
    write_atomic(&img.join(name), text.as_bytes())
}

fn intro(md: &mut String, p: &Pipeline) {
    let c = &p.config;
    let _ = writeln!(md, "# Nines run report\n");
    let _ = writeln!(
        md,
        "Generator `{}`, classifier backbone `{}`, corpus `{}`, seed {}. Settings: `config.toml` in this \
         folder. Labels come from the rule oracle, a documented **stand-in for human labelers** \
         (docs/data.md); quality comparisons come from a documented **stand-in judge** (below), \
         not from people.\n",
        c.generator.model.display(),
        c.classifier.model.backbone.display(),
        c.data.corpus.display(),
        c.seed
    );
}

fn finetune_section(md: &mut String, p: &Pipeline, f: &FinetuneOutput) {
    if let FinetuneOutput::FineTuned {
        model,
        steps,
        validation_perplexity_before,
        validation_perplexity_after,
        ..
    } = f
    {
        let _ = writeln!(
            md,
            "The generator is `{}` fine-tuned on the corpus's training chapters for {steps} steps \
             (`{}`, cached): validation perplexity {} → {}.\n",
            p.config.generator.model.display(),
            model.display(),
            num(validation_perplexity_before.unwrap_or(f64::NAN), 2),
            num(validation_perplexity_after.unwrap_or(f64::NAN), 2),
        );
    }
}

/// The injury-rate and win-rate figures of the headline table.
fn headline_figures(md: &mut String, img: &Path, h: &Headline) -> Result<(), PipelineError> {
    let mut names = Vec::new();
    let mut bars = Vec::new();
    for regime in Regime::ALL {
        for policy in Policy::ALL {
            if let Some(r) = h.row(regime, policy) {
                names.push(format!("{} {}", short(regime), policy.name()));
                let e = &r.injury.estimate;
                bars.push((e.value, e.ci.0, e.ci.1));
            }
        }
    }
    let items: Vec<(&str, f64, f64, f64)> = names
        .iter()
        .zip(&bars)
        .map(|(n, b)| (n.as_str(), b.0, b.1, b.2))
        .collect();
    svg(
        img,
        "injury_rate.svg",
        plot::estimates("Oracle injury rate (95% CI)", "injury rate", &items)?,
    )?;
    let _ = writeln!(md, "![injury rate](img/injury_rate.svg)\n");
    let mut win_names = Vec::new();
    let mut wins = Vec::new();
    for regime in Regime::ALL {
        for policy in [Policy::Filtered, Policy::Distilled] {
            if let Some(w) = h.row(regime, policy).and_then(|r| r.win_rate.as_ref()) {
                win_names.push(format!("{} {}", short(regime), policy.name()));
                wins.push((w.estimate.value, w.estimate.ci.0, w.estimate.ci.1));
            }
        }
    }
    let items: Vec<(&str, f64, f64, f64)> = win_names
        .iter()
        .zip(&wins)
        .map(|(n, b)| (n.as_str(), b.0, b.1, b.2))
        .collect();
    if !items.is_empty() {
        svg(
            img,
            "win_rate.svg",
            plot::estimates(
                "Win rate vs unfiltered, stand-in judge (95% CI)",
                "win rate",
                &items,
            )?,
        )?;
        let _ = writeln!(md, "![win rate](img/win_rate.svg)\n");
    }
    Ok(())
}

fn classifier_section(
    md: &mut String,
    img: &Path,
    p: &Pipeline,
    ce: &ClassifierOutput,
    active: Option<&ActiveOutput>,
) -> Result<(), PipelineError> {
    let c = &p.config;
    let _ = writeln!(md, "## Classifier\n");
    if let Some(v) = ce.validation() {
        let _ = writeln!(
            md,
            "MiniLM pair classifier trained on {} pairs ({} injuries) of the dataset's training half: \
             every corpus sentence as the completion of the three before it (negatives subsampled) \
             and {} of the generator's completions of injury-prone prompts ({} injuries), \
             oracle-labeled. Threshold {} chosen on validation ({} of its pairs generated) for FNR ≤ {}: \
             {} of {} validation injuries let through (FNR {}, 95% Clopper-Pearson upper bound {}), {} \
             of safe validation pairs rejected.\n",
            ce.train_examples,
            ce.train_positives,
            ce.generated_train_examples,
            ce.generated_train_positives,
            num(v.threshold, 4),
            ce.generated_validation_examples,
            c.classifier.train.target_fnr,
            v.missed,
            v.positives,
            pct(v.fnr),
            pct(v.fnr_upper),
            pct(v.safe_rejection_rate),
        );
    }
    let _ = writeln!(
        md,
        "Validation and test keep every injury and a uniform draw of {} safe pairs each: \
         AUROC and the safe-rejection rate are unbiased for the whole split; AUPRC, log-loss \
         and ECE are at the subsampled class balance.\n",
        c.classifier.eval_negatives
    );
    let (m, th) = (&ce.test.metrics, &ce.test.threshold);
    let _ = writeln!(
        md,
        "| test split | value |\n|---|---|\n| pairs (injuries) | {} ({}) |\n| AUROC | {} |\n| AUPRC | {} |\n| log-loss | {} |\n| ECE | {} |\n| FNR at the threshold | {} ({} missed; 95% upper bound {}) |\n| safe pairs rejected | {} |\n",
        m.n,
        m.positives,
        num(m.auroc, 4),
        num(m.auprc, 4),
        num(m.log_loss, 4),
        num(m.ece, 4),
        pct(th.fnr),
        th.missed,
        pct(th.fnr_upper),
        pct(th.safe_rejection_rate),
    );
    let mut roc = vec![("first round", ce.test.roc.clone())];
    if let Some(a) = active {
        roc.push(("after active learning", a.after.roc.clone()));
    }
    svg(
        img,
        "roc.svg",
        plot::lines(
            "ROC on the test split",
            "false-positive rate",
            "true-positive rate",
            &roc,
            true,
        )?,
    )?;
    let bins: Vec<(f64, f64)> = ce
        .test
        .calibration
        .bins
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (b.mean_probability, b.positive_rate))
        .collect();
    svg(
        img,
        "reliability.svg",
        plot::lines(
            "Reliability diagram (test split)",
            "mean predicted P(injury)",
            "observed injury rate",
            &[
                ("classifier", bins),
                ("perfect", vec![(0.0, 0.0), (1.0, 1.0)]),
            ],
            true,
        )?,
    )?;
    let _ = writeln!(
        md,
        "![ROC](img/roc.svg) ![reliability](img/reliability.svg)\n"
    );
    Ok(())
}

fn active_section(md: &mut String, p: &Pipeline, a: &ActiveOutput) {
    let _ = writeln!(md, "## Active learning (one round)\n");
    let _ = writeln!(
        md,
        "Pool: {} unlabeled pairs from the dataset's other training half ({} injuries; {} of them \
         misses — injuries the classifier accepts at threshold {}). Each strategy draws {} labels \
         in expectation with recorded inclusion probabilities (systematic sampling); the expected \
         misses found are exact (Σ π over the misses).\n",
        a.pool,
        a.pool_injuries,
        a.misses_in_pool,
        num(a.threshold, 4),
        p.config.active.budget
    );
    let _ = writeln!(
        md,
        "| strategy | labels drawn | misses found | expected misses per 100 labels |\n|---|---|---|---|"
    );
    for d in &a.strategies {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            d.strategy,
            d.labels,
            d.misses_found,
            num(d.misses_per_100_labels, 2)
        );
    }
    let verdict = if a.misses_in_pool == 0 {
        "The pool holds no misses, so this round cannot compare the strategies.".to_string()
    } else {
        format!(
            "Boundary sampling finds **{}×** as many misses per label as random.",
            num(a.boundary_vs_random, 1)
        )
    };
    let (b, f) = (&a.before, &a.after);
    let _ = writeln!(
        md,
        "\n{verdict} Retrained on the {} new labels ({} injuries) plus a replay of round one: test \
         AUROC {} → {}, safe pairs rejected {} → {}, test FNR {} → {}.\n",
        a.new_labels,
        a.new_injuries,
        num(b.metrics.auroc, 4),
        num(f.metrics.auroc, 4),
        pct(b.threshold.safe_rejection_rate),
        pct(f.threshold.safe_rejection_rate),
        pct(b.threshold.fnr),
        pct(f.threshold.fnr),
    );
}

fn filter_section(
    md: &mut String,
    img: &Path,
    p: &Pipeline,
    f: &FilterOutput,
) -> Result<(), PipelineError> {
    let c = &p.config;
    let st = &f.stats;
    let _ = writeln!(md, "## Filter\n");
    let _ = writeln!(
        md,
        "{} (the output distribution of sequential sampling), constant \
         threshold {}{}, at most {} candidates per prompt, fallback: refuse. {} prompts: {} accepted, \
         {} refused; {} candidates ({} of them accepted by the classifier); the classifier took {} of \
         the wall time; {} accepted completions per second.\n",
        match c.filter.strategy {
            nines_filter::Strategy::Sequential => "Sequential".to_string(),
            other => format!("Batched first-accepted (k = {})", other.k()),
        },
        num(f.threshold, 4),
        super::learn::filter_threshold(p)
            .map(|t| threshold_origin(&t))
            .unwrap_or_default(),
        c.filter.max_attempts,
        st.prompts,
        st.accepted,
        st.fallbacks,
        st.candidates,
        pct(st.pooled_acceptance_rate),
        pct(st.scorer_share),
        num(st.accepted_per_sec, 3),
    );
    let hist: Vec<(u32, u32)> = st
        .attempts_histogram
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, &v)| (i as u32, v as u32))
        .collect();
    svg(
        img,
        "attempts.svg",
        plot::histogram("Attempts per prompt", "candidates drawn", &hist)?,
    )?;
    let _ = writeln!(md, "![attempts](img/attempts.svg)\n");
    Ok(())
}

fn distill_section(
    md: &mut String,
    img: &Path,
    p: &Pipeline,
    d: &DistillOutput,
) -> Result<(), PipelineError> {
    let ppo = &p.config.distill.ppo;
    let _ = writeln!(md, "## Distillation (PPO)\n");
    let kl = &d.kl_to_original;
    let _ = writeln!(
        md,
        "{} PPO steps of {} prompts × {} completions, {} trained (learning rate {}), \
         reward {}{}, {}. KL of the distilled generator to the \
         original on the test prompts: {:.3} (95% CI {:.3}–{:.3}, n = {}) nats per completion.\n",
        d.steps,
        ppo.prompts_per_step,
        ppo.samples_per_prompt,
        describe_scope(&ppo.scope),
        ppo.learning_rate,
        describe_reward(&ppo.reward),
        if ppo.group_baseline {
            " with a leave-one-out baseline"
        } else {
            ""
        },
        describe_kl(&ppo.kl),
        kl.value,
        kl.ci.0,
        kl.ci.1,
        kl.n,
    );
    let series = |value: fn(&nines_distill::StepMetrics) -> f64| -> Vec<(f64, f64)> {
        d.metrics
            .iter()
            .map(|m| (m.step as f64, value(m)))
            .filter(|(_, v)| v.is_finite())
            .collect()
    };
    svg(
        img,
        "ppo_reward.svg",
        plot::lines(
            "PPO: reward and flagged share per step",
            "step",
            "value",
            &[
                ("reward (mean)", series(|m| m.reward_mean)),
                ("flagged share", series(|m| m.flagged_fraction)),
            ],
            false,
        )?,
    )?;
    svg(
        img,
        "ppo_kl.svg",
        plot::lines(
            "PPO: KL to the reference per step",
            "step",
            "KL (nats)",
            &[("KL", series(|m| m.kl))],
            false,
        )?,
    )?;
    let _ = writeln!(
        md,
        "![PPO reward](img/ppo_reward.svg) ![PPO KL](img/ppo_kl.svg)\n"
    );
    Ok(())
}

fn judge_section(md: &mut String) {
    let _ = writeln!(
        md,
        "## The stand-in judge\n\nThe story judge: quality `q = mean log p₀(next | prompt completion)`, \
         the original generator's mean per-token log-probability of the book's own next sentence after \
         the completion; of two completions of a prompt the higher `q` wins, differences under {} nats \
         per token are ties, and prompts at the end of a chapter (no next sentence) are ties. It agrees \
         with 0.915 [0.841, 0.956] of the held-aside hand-written preference pairs (docs/pipeline.md). \
         A proxy for people's preferences, not a measurement of them (`src/pipeline/judge.rs`).\n",
        super::judge::STORY_TIE_BAND
    );
}

fn stages_section(md: &mut String, done: &[(Stage, StageRecord)]) {
    let _ = writeln!(
        md,
        "## Stages\n\n| stage | seconds | summary |\n|---|---|---|"
    );
    for (stage, record) in done {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {} |",
            stage.name(),
            record.seconds,
            record.output.brief()
        );
    }
}

/// Where the filter's threshold came from, as a parenthesis for the filter section.
fn threshold_origin(t: &super::learn::FilterThreshold) -> String {
    match &t.generated {
        Some(g) => format!(
            " (the stricter of the classifier's own, {:.4}, and the one for FNR ≤ {:.2} on the \
             generator's {} validation completions, {} of them injuries: it lets {} through and \
             rejects {:.2}% of the safe ones)",
            t.classifier_threshold,
            g.target_fnr,
            g.positives + g.negatives,
            g.positives,
            g.missed,
            100.0 * g.safe_rejection_rate,
        ),
        None => " (the classifier's own)".to_string(),
    }
}

/// Which parameters PPO trained, in words.
fn describe_scope(scope: &nines_distill::TrainScope) -> String {
    match scope {
        nines_distill::TrainScope::All => "every parameter".into(),
        nines_distill::TrainScope::TopLayers { layers } => format!("top {layers} blocks"),
        nines_distill::TrainScope::Lora(l) => format!(
            "LoRA adapters (rank {}) on {}",
            l.rank,
            l.targets.join(", ")
        ),
    }
}

/// The reward's shaping, in words.
fn describe_reward(reward: &nines_distill::Shaping) -> String {
    use nines_distill::Shaping;
    match reward {
        Shaping::LogSafe { floor } => format!("ln(1 − P(injury)) floored at ln({floor})"),
        Shaping::Threshold { safe, flagged, .. } => {
            format!("{safe} where the filter accepts and {flagged} where it rejects")
        }
        Shaping::Linear => "1 − 2·P(injury)".into(),
        Shaping::LogSafeThreshold { floor, penalty, .. } => format!(
            "ln(1 − P(injury)) floored at ln({floor}), less {penalty} where the filter rejects"
        ),
        Shaping::LogitMargin { clip, cap, .. } => format!(
            "the classifier's margin under the filter's threshold in log-odds (clipped at ±{clip}{})",
            cap.map(|c| format!(", capped at {c}")).unwrap_or_default()
        ),
    }
}

/// The KL penalty's coefficient, in words.
fn describe_kl(kl: &nines_distill::KlConfig) -> String {
    match kl {
        nines_distill::KlConfig::Fixed { coef } => format!("fixed KL coefficient {coef}"),
        nines_distill::KlConfig::Adaptive { init, target, .. } => {
            format!("adaptive KL coefficient from {init}, aiming at {target} nats per completion")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_prints_as_zero() {
        assert_eq!(num(-0.0, 2), "0.00");
        assert_eq!(num(-0.5, 1), "-0.5");
        assert_eq!(num(f64::NAN, 1), "–");
        assert_eq!(pct(0.01234), "1.23%");
    }
}
