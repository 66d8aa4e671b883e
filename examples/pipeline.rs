//! The pipeline from the library: a small run in its own folder, then where its report is.
//! (`nines run` is the command-line front of the same API; `make demo` runs the defaults.)
//!
//! ```text
//! cargo run --release --example pipeline -- runs/smoke
//! ```

use nines::pipeline::{Pipeline, PipelineConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/smoke".into());
    // The defaults, scaled down: a few prompts, a small classifier round, one PPO step.
    let mut config = PipelineConfig {
        run_dir: run_dir.into(),
        ..PipelineConfig::default()
    };
    config.data.train_prompts = 16;
    config.data.test_prompts = 8;
    config.data.injury_prone_test_prompts = 8;
    config.classifier.train_negatives = 100;
    config.classifier.generated_prompts = 16;
    config.active.pool_size = 200;
    config.active.budget = 20;
    config.distill.ppo.total_steps = 1;
    config.validate("example")?;

    let pipeline = Pipeline::new(config)?;
    let stages = pipeline.run(None, &mut |line| eprintln!("{line}"))?;
    let seconds: f64 = stages.iter().map(|(_, record)| record.seconds).sum();
    println!(
        "{} stages in {seconds:.0} s; report: {}",
        stages.len(),
        pipeline.run_dir().root().join("report.md").display()
    );
    Ok(())
}
