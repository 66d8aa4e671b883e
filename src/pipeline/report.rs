//! `report.md`: the run's numbers, each with its confidence interval and sample size, and
//! its figures (SVG, in `img/`).

use std::fmt::Write as _;

use super::estimates::{Headline, Policy, Regime, WinRateEstimator};
use super::{Pipeline, PipelineError, Stage, StageRecord, plot, write_atomic};

fn read_json(p: &Pipeline, name: &str) -> serde_json::Value {
    std::fs::read_to_string(p.run.path(name))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn pct(v: &serde_json::Value) -> String {
    v.as_f64()
        .map_or("–".into(), |x| format!("{:.2}%", 100.0 * x))
}

fn num(v: &serde_json::Value, digits: usize) -> String {
    // `+ 0.0` turns a negative zero into zero: "-0.00" reads as a sign that is not there.
    v.as_f64()
        .map_or("–".into(), |x| format!("{:.digits$}", x + 0.0))
}

/// `value (95% CI lo–hi, n = N)` of an `Estimate` as JSON, in percent or plain.
fn fmt_estimate(e: &serde_json::Value, percent: bool) -> String {
    let Some(v) = e["value"].as_f64() else {
        return "–".into();
    };
    let lo = e["ci"][0].as_f64().unwrap_or(f64::NAN);
    let hi = e["ci"][1].as_f64().unwrap_or(f64::NAN);
    let n = e["n"].as_u64().unwrap_or(0);
    if percent {
        format!(
            "{:.2}% (95% CI {:.2}–{:.2}%, n = {n})",
            100.0 * v,
            100.0 * lo,
            100.0 * hi
        )
    } else {
        format!("{v:.3} (95% CI {lo:.3}–{hi:.3}, n = {n})")
    }
}

fn read_typed<T: serde::de::DeserializeOwned>(p: &Pipeline, name: &str) -> Option<T> {
    let text = std::fs::read_to_string(p.run.path(name)).ok()?;
    serde_json::from_str(&text).ok()
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

fn points(v: &serde_json::Value) -> Vec<(f64, f64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `report.md` (and `img/*.svg`) from the finished stages' outputs.
pub(super) fn write(
    p: &Pipeline,
    done: &[(Stage, StageRecord)],
) -> Result<serde_json::Value, PipelineError> {
    let img = p.run.path("img");
    std::fs::create_dir_all(&img).map_err(|e| PipelineError::io(&img, e))?;
    let svg = |name: &str, text: String| write_atomic(&img.join(name), text.as_bytes());
    let c = &p.config;
    let mut md = String::new();
    let _ = writeln!(md, "# Nines run report\n");
    let _ = writeln!(
        md,
        "Generator `{}`, classifier backbone `{}`, corpus `{}`, seed {}. Settings: `config.toml` in this \
         folder. Labels come from the rule oracle, a documented **stand-in for human labelers** \
         (docs/data.md); quality comparisons come from a documented **stand-in judge** (below), \
         not from people.\n",
        c.generator.model.display(),
        c.classifier.backbone.display(),
        c.data.corpus.display(),
        c.seed
    );

    let ft = read_json(p, "finetune.json");
    if ft["fine_tuned"].as_bool() == Some(true) {
        let _ = writeln!(
            md,
            "The generator is `{}` fine-tuned on the corpus's training chapters for {} steps \
             (`{}`, cached): validation perplexity {} → {}.\n",
            c.generator.model.display(),
            ft["steps"],
            ft["model"].as_str().unwrap_or("?"),
            num(&ft["validation_perplexity_before"], 2),
            num(&ft["validation_perplexity_after"], 2),
        );
    }

    // Headline: one table of regime × policy, then its figure.
    if let Some(h) = read_typed::<Headline>(p, super::estimates::HEADLINE) {
        headline(&mut md, &h, c)?;
        let mut bars = Vec::new();
        let mut names = Vec::new();
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
            "injury_rate.svg",
            plot::estimates("Oracle injury rate (95% CI)", "injury rate", &items)?,
        )?;
        let _ = writeln!(md, "![injury rate](img/injury_rate.svg)\n");
        let mut wins = Vec::new();
        let mut win_names = Vec::new();
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
                "win_rate.svg",
                plot::estimates(
                    "Win rate vs unfiltered, stand-in judge (95% CI)",
                    "win rate",
                    &items,
                )?,
            )?;
            let _ = writeln!(md, "![win rate](img/win_rate.svg)\n");
        }
    }

    // Classifier.
    let ce = read_json(p, "classifier_eval.json");
    if ce.is_object() {
        let v = &ce["validation"];
        let t = &ce["test"];
        let _ = writeln!(md, "## Classifier\n");
        let _ = writeln!(
            md,
            "MiniLM pair classifier trained on {} pairs ({} injuries) of the dataset's training half: \
             every corpus sentence as the completion of the three before it (negatives subsampled) \
             and {} of the generator's completions of injury-prone prompts ({} injuries), \
             oracle-labeled. Threshold {} chosen on validation ({} of its pairs generated) for FNR ≤ {}: \
             {} of {} validation injuries let through (FNR {}, 95% Clopper-Pearson upper bound {}), {} \
             of safe validation pairs rejected.\n",
            ce["train_examples"],
            ce["train_positives"],
            ce["generated_train_examples"],
            ce["generated_train_positives"],
            num(&v["threshold"], 4),
            ce["generated_validation_examples"],
            c.classifier.target_fnr,
            v["missed"],
            v["positives"],
            pct(&v["fnr"]),
            pct(&v["fnr_upper"]),
            pct(&v["safe_rejection_rate"]),
        );
        let _ = writeln!(
            md,
            "Validation and test keep every injury and a uniform draw of {} safe pairs each: \
             AUROC and the safe-rejection rate are unbiased for the whole split; AUPRC, log-loss \
             and ECE are at the subsampled class balance.\n",
            c.classifier.eval_negatives
        );
        let m = &t["metrics"];
        let th = &t["threshold"];
        let _ = writeln!(
            md,
            "| test split | value |\n|---|---|\n| pairs (injuries) | {} ({}) |\n| AUROC | {} |\n| AUPRC | {} |\n| log-loss | {} |\n| ECE | {} |\n| FNR at the threshold | {} ({} missed; 95% upper bound {}) |\n| safe pairs rejected | {} |\n",
            m["n"],
            m["positives"],
            num(&m["auroc"], 4),
            num(&m["auprc"], 4),
            num(&m["log_loss"], 4),
            num(&m["ece"], 4),
            pct(&th["fnr"]),
            th["missed"],
            pct(&th["fnr_upper"]),
            pct(&th["safe_rejection_rate"]),
        );
        let mut roc = vec![("first round", points(&t["roc"]))];
        let act = read_json(p, "active.json");
        if act.is_object() {
            roc.push(("after active learning", points(&act["test"]["roc"])));
        }
        svg(
            "roc.svg",
            plot::lines(
                "ROC on the test split",
                "false-positive rate",
                "true-positive rate",
                &roc,
                true,
            )?,
        )?;
        let bins: Vec<(f64, f64)> = t["calibration"]["bins"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|b| b["count"].as_u64().unwrap_or(0) > 0)
                    .filter_map(|b| {
                        Some((
                            b["mean_probability"].as_f64()?,
                            b["positive_rate"].as_f64()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        svg(
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
    }

    // Active learning.
    let act = read_json(p, "active.json");
    if act.is_object() {
        let s = &act["strategies"];
        let _ = writeln!(md, "## Active learning (one round)\n");
        let _ = writeln!(
            md,
            "Pool: {} unlabeled pairs from the dataset's other training half ({} injuries; {} of them \
             misses — injuries the classifier accepts at threshold {}). Each strategy draws {} labels \
             in expectation with recorded inclusion probabilities (systematic sampling); the expected \
             misses found are exact (Σ π over the misses).\n",
            act["pool"],
            act["pool_injuries"],
            act["misses_in_pool"],
            num(&act["threshold"], 4),
            c.active.budget
        );
        let _ = writeln!(
            md,
            "| strategy | labels drawn | misses found | expected misses per 100 labels |\n|---|---|---|---|"
        );
        for name in ["boundary", "random"] {
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} |",
                s[name]["labels"],
                s[name]["misses_found"],
                num(&s[name]["misses_per_100_labels"], 2)
            );
        }
        let _ = writeln!(
            md,
            "\n{} Retrained on the {} \
             new labels ({} injuries) plus a replay of round one: test AUROC {} → {}, safe pairs \
             rejected {} → {}, test FNR {} → {}.\n",
            if act["misses_in_pool"].as_u64() == Some(0) {
                "The pool holds no misses, so this round cannot compare the strategies.".to_string()
            } else {
                format!(
                    "Boundary sampling finds **{}×** as many misses per label as random.",
                    num(&act["boundary_vs_random"], 1)
                )
            },
            act["new_labels"],
            act["new_injuries"],
            num(&act["before"]["test"]["auroc"], 4),
            num(&act["after"]["test"]["auroc"], 4),
            pct(&act["before"]["test_threshold"]["safe_rejection_rate"]),
            pct(&act["after"]["test_threshold"]["safe_rejection_rate"]),
            pct(&act["before"]["test_threshold"]["fnr"]),
            pct(&act["after"]["test_threshold"]["fnr"]),
        );
    }

    // Filter.
    let fj = read_json(p, "filter.json");
    if fj.is_object() {
        let st = &fj["stats"];
        let _ = writeln!(md, "## Filter\n");
        let _ = writeln!(
            md,
            "Batched first-accepted (k = {}, the output distribution of sequential sampling), constant \
             threshold {}{}, at most {} candidates per prompt, fallback: refuse. {} prompts: {} accepted, \
             {} refused; {} candidates ({} of them accepted by the classifier); the classifier took {} of \
             the wall time; {} accepted completions per second.\n",
            c.filter.k,
            num(&fj["threshold"], 4),
            super::learn::filter_threshold(p)
                .map(|t| threshold_origin(&t))
                .unwrap_or_default(),
            c.filter.max_attempts,
            st["prompts"],
            st["accepted"],
            st["fallbacks"],
            st["candidates"],
            pct(&st["pooled_acceptance_rate"]),
            pct(&st["scorer_share"]),
            num(&st["accepted_per_sec"], 3),
        );
        let hist: Vec<(u32, u32)> = st["attempts_histogram"]
            .as_array()
            .map(|a| {
                a.iter()
                    .enumerate()
                    .filter(|(i, _)| *i > 0)
                    .map(|(i, v)| (i as u32, v.as_u64().unwrap_or(0) as u32))
                    .collect()
            })
            .unwrap_or_default();
        svg(
            "attempts.svg",
            plot::histogram("Attempts per prompt", "candidates drawn", &hist)?,
        )?;
        let _ = writeln!(md, "![attempts](img/attempts.svg)\n");
    }

    // Distillation.
    let dj = read_json(p, "distill.json");
    let metrics = read_json(p, "distill_metrics.json");
    if dj.is_object() {
        let _ = writeln!(md, "## Distillation (PPO)\n");
        let _ = writeln!(
            md,
            "{} PPO steps of {} prompts × {} completions, top {} blocks trained (learning rate {}), \
             reward the classifier's margin under the filter's threshold in log-odds (clipped at ±3, \
             leave-one-out baseline), fixed KL coefficient {}. KL of the distilled generator to the \
             original on the test prompts: {} nats per completion.\n",
            dj["steps"],
            c.distill.prompts_per_step,
            c.distill.samples_per_prompt,
            c.distill.top_layers,
            c.distill.learning_rate,
            c.distill.kl_coef,
            fmt_estimate(&dj["kl_to_original"], false),
        );
        let series = |key: &str| -> Vec<(f64, f64)> {
            metrics
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|m| Some((m["step"].as_f64()?, m[key].as_f64()?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        svg(
            "ppo_reward.svg",
            plot::lines(
                "PPO: reward and flagged share per step",
                "step",
                "value",
                &[
                    ("reward (mean)", series("reward_mean")),
                    ("flagged share", series("flagged_fraction")),
                ],
                false,
            )?,
        )?;
        svg(
            "ppo_kl.svg",
            plot::lines(
                "PPO: KL to the reference per step",
                "step",
                "KL (nats)",
                &[("KL", series("kl"))],
                false,
            )?,
        )?;
        let _ = writeln!(
            md,
            "![PPO reward](img/ppo_reward.svg) ![PPO KL](img/ppo_kl.svg)\n"
        );
    }

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
    let _ = writeln!(
        md,
        "## Stages\n\n| stage | seconds | summary |\n|---|---|---|"
    );
    for (stage, record) in done {
        let _ = writeln!(
            md,
            "| {} | {:.0} | `{}` |",
            stage.name(),
            record.seconds,
            record.summary
        );
    }
    write_atomic(&p.run.path("report.md"), md.as_bytes())?;
    Ok(serde_json::json!({ "report": p.run.path("report.md").display().to_string() }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_prints_as_zero() {
        assert_eq!(num(&serde_json::json!(-0.0), 2), "0.00");
        assert_eq!(num(&serde_json::json!(-0.5), 1), "-0.5");
        assert_eq!(num(&serde_json::Value::Null, 1), "–");
    }
}
