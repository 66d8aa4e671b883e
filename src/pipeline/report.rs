//! `report.md`: the run's numbers, each with its confidence interval and sample size, and
//! its figures (SVG, in `img/`).

use std::fmt::Write as _;

use super::{Pipeline, PipelineError, Stage, StageRecord, plot, write_atomic};

fn fmt_estimate(e: &serde_json::Value) -> String {
    let v = e["value"].as_f64().unwrap_or(f64::NAN);
    let lo = e["ci"][0].as_f64().unwrap_or(f64::NAN);
    let hi = e["ci"][1].as_f64().unwrap_or(f64::NAN);
    let n = e["n"].as_u64().unwrap_or(0);
    format!(
        "{:.2}% (95% CI {:.2}–{:.2}%, n = {n})",
        100.0 * v,
        100.0 * lo,
        100.0 * hi
    )
}

/// Writes `report.md` (and `img/*.svg`) from the finished stages' outputs.
pub(super) fn write(
    p: &Pipeline,
    done: &[(Stage, StageRecord)],
) -> Result<serde_json::Value, PipelineError> {
    let img = p.run.path("img");
    std::fs::create_dir_all(&img).map_err(|e| PipelineError::io(&img, e))?;
    let estimates: serde_json::Value = std::fs::read_to_string(p.run.path("estimates.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut md = String::new();
    let c = &p.config;
    let _ = writeln!(md, "# Nines run report\n");
    let _ = writeln!(
        md,
        "Generator `{}`, corpus `{}`, seed {}. Settings: `config.toml` in this folder. Labels come from the \
         rule oracle, a documented **stand-in for human labelers** (crates/nines-data, docs/data.md).\n",
        c.generator.model.display(),
        c.data.corpus.display(),
        c.seed
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
    let _ = writeln!(md, "\n## Injury rate of the unfiltered generator\n");
    let _ = writeln!(md, "| split | injury rate |\n|---|---|");
    let mut bars = Vec::new();
    for split in ["train", "validation", "test"] {
        let e = &estimates["unfiltered_injury_rate"][split];
        if e.is_object() {
            let _ = writeln!(md, "| {split} | {} |", fmt_estimate(e));
        }
    }
    let _ = writeln!(
        md,
        "\nTraining and validation prompts oversample an injury lexicon (their rates are not those of \
         uniform prompts); test prompts are uniform. Intervals: Wilson at the cluster-robust effective \
         sample size (completions of one prompt are correlated)."
    );
    let test = &estimates["unfiltered_injury_rate"]["test"];
    if let (Some(v), Some(lo), Some(hi)) = (
        test["value"].as_f64(),
        test["ci"][0].as_f64(),
        test["ci"][1].as_f64(),
    ) {
        bars.push(("unfiltered", v, lo, hi));
    }
    if !bars.is_empty() {
        let svg = plot::estimates("Injury rate on test prompts (95% CI)", "injury rate", &bars)?;
        write_atomic(&img.join("injury_rate.svg"), svg.as_bytes())?;
        let _ = writeln!(md, "\n![injury rate](img/injury_rate.svg)");
    }
    write_atomic(&p.run.path("report.md"), md.as_bytes())?;
    Ok(serde_json::json!({ "report": p.run.path("report.md").display().to_string() }))
}
