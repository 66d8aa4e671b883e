//! `nines run`: the pipeline, with settings from defaults, a TOML file and `--set` overrides.

use std::path::PathBuf;

use clap::Args;
use nines::pipeline::{Pipeline, PipelineConfig, Stage};

/// Flags of `nines run`. Settings come from the defaults, then `--config`, then each `--set`
/// in order; the run folder keeps the settings it ran with in `config.toml`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// TOML settings file (keys as in `config.toml` of an earlier run folder).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// One setting, as a dotted key and a TOML value: `distill.ppo.total_steps=48`,
    /// `generator.dtype="F32"`, `run_dir="runs/mine"`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Run folder (shorthand for `--set run_dir="…"`).
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Redo this stage and every later one, even when their settings did not change.
    #[arg(long, value_enum)]
    pub from: Option<Stage>,
    /// Stop after this stage (the later ones are left as they are).
    #[arg(long, value_enum)]
    pub until: Option<Stage>,
    /// Print the settings the run would use, as TOML, and stop.
    #[arg(long)]
    pub print_config: bool,
}

/// Runs the pipeline with the settings of `args`.
pub fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = settings(&args)?;
    if args.print_config {
        print!("{}", toml::to_string(&config)?);
        return Ok(());
    }
    let pipeline = Pipeline::new(config)?;
    eprintln!("run folder: {}", pipeline.run_dir().root().display());
    pipeline.run_until(args.from, args.until, &mut |line| eprintln!("{line}"))?;
    if args.until.is_none_or(|last| last == Stage::Report) {
        eprintln!(
            "report: {}",
            pipeline.run_dir().root().join("report.md").display()
        );
    }
    Ok(())
}

/// The settings: defaults, then the TOML file, then every `--set`, checked once at the end
/// (an error names the key, and `--set` when an override caused it).
pub fn settings(args: &RunArgs) -> Result<PipelineConfig, Box<dyn std::error::Error>> {
    let (mut table, origin) = match &args.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let table: toml::Table =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            (table, path.display().to_string())
        }
        None => (
            toml::Table::try_from(PipelineConfig::default())?,
            "defaults".to_string(),
        ),
    };
    for item in &args.overrides {
        set(&mut table, item)?;
    }
    if let Some(dir) = &args.run_dir {
        table.insert(
            "run_dir".into(),
            toml::Value::String(dir.display().to_string()),
        );
    }
    let origin = if args.overrides.is_empty() {
        origin
    } else {
        format!("{origin} with --set")
    };
    Ok(PipelineConfig::from_toml_str(
        &toml::to_string(&table)?,
        &origin,
    )?)
}

/// Applies one `KEY=VALUE` override to `table`. The value is read as TOML (`48`, `0.5`,
/// `true`, `"f32"`); a bare word that is not TOML is taken as a string.
fn set(table: &mut toml::Table, item: &str) -> Result<(), String> {
    let (key, value) = item
        .split_once('=')
        .ok_or_else(|| format!("--set {item}: expected KEY=VALUE"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("--set {item}: empty key"));
    }
    let value = value.trim();
    let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("split yields at least one part");
    let mut node = table;
    for part in parts {
        node = node
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("--set {item}: `{part}` is not a section"))?;
    }
    node.insert(last.to_string(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> RunArgs {
        crate::parse_flags(args).unwrap()
    }

    #[test]
    fn overrides_apply_in_order_and_are_typed() {
        let args = parse(&[
            "--set",
            "distill.ppo.total_steps=48",
            "--set",
            "generator.dtype=\"F32\"",
            "--set",
            "distill.ppo.total_steps=50",
            "--run-dir",
            "runs/x",
        ]);
        let c = settings(&args).unwrap();
        assert_eq!(c.distill.ppo.total_steps, 50);
        assert_eq!(c.generator.dtype, nines_runtime::DType::F32);
        assert_eq!(c.run_dir, PathBuf::from("runs/x"));
        assert_eq!(c.filter, PipelineConfig::default().filter);
    }

    #[test]
    fn bad_overrides_name_the_key() {
        for (item, key) in [
            ("distill.ppo.total_steps=-1", "distill.ppo.total_steps"),
            ("distill.ppo.stepz=3", "distill.ppo"),
            (
                "filter.generated_target_fnr=2",
                "filter.generated_target_fnr",
            ),
        ] {
            let err = settings(&parse(&["--set", item])).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains("--set"), "{item}: {err}");
        }
        for item in ["nokey", "=3", "seed.x=1"] {
            assert!(settings(&parse(&["--set", item])).is_err(), "{item}");
        }
    }

    #[test]
    fn a_missing_config_file_is_named() {
        let err = settings(&parse(&["--config", "no/such.toml"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no/such.toml"), "{err}");
    }
}
