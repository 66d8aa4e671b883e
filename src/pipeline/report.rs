//! `report.md`: the run's numbers, each with its confidence interval and sample size, and
//! its figures (SVG, in `img/`).

use std::fmt::Write as _;

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

fn bar_item<'a>(name: &'a str, e: &serde_json::Value) -> Option<(&'a str, f64, f64, f64)> {
    Some((
        name,
        e["value"].as_f64()?,
        e["ci"][0].as_f64()?,
        e["ci"][1].as_f64()?,
    ))
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

    // Headline.
    let est = read_json(p, "estimates.json");
    let _ = writeln!(
        md,
        "## Headline (test prompts, uniform over the corpus's test chapters)\n"
    );
    let _ = writeln!(
        md,
        "| policy | injury rate (oracle) | flagged by the classifier | win rate vs unfiltered (stand-in judge) |\n|---|---|---|---|"
    );
    let _ = writeln!(
        md,
        "| unfiltered | {} | {} | 0.5 by definition |",
        fmt_estimate(&est["injury_rate"]["unfiltered"], true),
        fmt_estimate(&est["flagged_rate"]["unfiltered"], true)
    );
    let eff = &est["win_rate"]["filtered_efficient"];
    let _ = writeln!(
        md,
        "| filtered (rejection sampling) | {} | 0 by construction | {} — efficient estimator, {} judged and {} refused of {} pairs |",
        fmt_estimate(&est["injury_rate"]["filtered"], true),
        fmt_estimate(&eff["estimate"], false),
        eff["comparisons"].as_u64().unwrap_or(0),
        eff["refused"].as_u64().unwrap_or(0),
        eff["pairs"].as_u64().unwrap_or(0),
    );
    let _ = writeln!(
        md,
        "| distilled (PPO) | {} | {} | {} — naive estimator |",
        fmt_estimate(&est["injury_rate"]["distilled"], true),
        fmt_estimate(&est["flagged_rate"]["distilled"], true),
        fmt_estimate(&est["win_rate"]["distilled_naive"], false),
    );
    let _ = writeln!(
        md,
        "\nInjury rates: oracle labels of one completion per prompt (the filter's accepted ones; refused \
         prompts have none), Wilson intervals at the cluster-robust effective sample size. The efficient \
         win-rate estimator counts a refused prompt as a loss (0) whatever the unfiltered completion \
         was; of the answered prompts, it counts a pair whose unfiltered completion the classifier \
         accepts as 1/2 without judging it (it is then itself a draw of the filtered policy) and \
         judges only the others. The naive estimator over every pair gives {} for \
         comparison.\n",
        fmt_estimate(&est["win_rate"]["filtered_naive"], false)
    );
    let bound = |key: &str| {
        est["injury_upper_bound"][key]
            .as_f64()
            .map_or("?".to_string(), |b| format!("{b:.4}"))
    };
    let _ = writeln!(
        md,
        "A safety claim is one-sided: at 95% (Clopper-Pearson at the effective sample size), the \
         injury rate is at most {} unfiltered, {} filtered and {} distilled.\n",
        bound("unfiltered"),
        bound("filtered"),
        bound("distilled")
    );
    for (policy, name) in [("filtered", "filtered"), ("distilled", "distilled")] {
        let line = &est["nines"][policy];
        if let (Some(per), Some(up), Some(n)) = (
            line["per_10k"].as_f64(),
            line["upper_per_10k"].as_f64(),
            line["nines"].as_f64(),
        ) {
            let next = line["trials_for_next_nine"]
                .as_u64()
                .map_or("more trials would not show".to_string(), |t| {
                    format!("{t} completions at the same rate would show")
                });
            let _ = writeln!(
                md,
                "The {name} policy: {per:.0} injuries per 10,000 completions, at most {up:.0} at 95% \
                 — {n:.2} nines of reliability; {next} one more.\n"
            );
        }
    }
    let mut bars = Vec::new();
    for (name, key) in [
        ("unfiltered", "unfiltered"),
        ("filtered", "filtered"),
        ("distilled", "distilled"),
    ] {
        if let Some(b) = bar_item(name, &est["injury_rate"][key]) {
            bars.push(b);
        }
    }
    if !bars.is_empty() {
        svg(
            "injury_rate.svg",
            plot::estimates("Injury rate on test prompts (95% CI)", "injury rate", &bars)?,
        )?;
        let _ = writeln!(md, "![injury rate](img/injury_rate.svg)\n");
    }
    let mut wins = Vec::new();
    if let Some(b) = bar_item("filtered (efficient)", &eff["estimate"]) {
        wins.push(b);
    }
    if let Some(b) = bar_item("filtered (naive)", &est["win_rate"]["filtered_naive"]) {
        wins.push(b);
    }
    if let Some(b) = bar_item("distilled (naive)", &est["win_rate"]["distilled_naive"]) {
        wins.push(b);
    }
    if !wins.is_empty() {
        svg(
            "win_rate.svg",
            plot::estimates(
                "Win rate vs unfiltered, stand-in judge (95% CI)",
                "win rate",
                &wins,
            )?,
        )?;
        let _ = writeln!(md, "![win rate](img/win_rate.svg)\n");
    }

    // Classifier.
    let ce = read_json(p, "classifier_eval.json");
    if ce.is_object() {
        let v = &ce["validation"];
        let t = &ce["test"];
        let _ = writeln!(md, "## Classifier\n");
        let _ = writeln!(
            md,
            "MiniLM pair classifier trained on {} pairs ({} injuries) of the dataset's training half \
             (every corpus sentence as the completion of the three before it, oracle-labeled; negatives \
             subsampled). Threshold {} chosen on validation for FNR ≤ {}: {} of {} validation injuries \
             let through (FNR {}, 95% Clopper-Pearson upper bound {}), {} of safe validation pairs \
             rejected.\n",
            ce["train_examples"],
            ce["train_positives"],
            num(&v["threshold"], 4),
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
             threshold {}, at most {} candidates per prompt, fallback: refuse. {} prompts: {} accepted, \
             {} refused; {} candidates ({} of them accepted by the classifier); the classifier took {} of \
             the wall time; {} accepted completions per second.\n",
            c.filter.k,
            num(&fj["threshold"], 4),
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
            "{} PPO steps of {} prompts × {} completions, top {} blocks trained, reward log P(safe) \
             from the classifier, fixed KL coefficient {}. KL of the distilled generator to the original \
             on the test prompts: {} nats per completion.\n",
            dj["steps"],
            c.distill.prompts_per_step,
            c.distill.samples_per_prompt,
            c.distill.top_layers,
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
