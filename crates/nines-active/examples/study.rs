//! The simulation study on the calibrated synthetic pool, without LibTorch: prints the
//! Markdown table and writes the SVG plot (`nines active simulate` is the same study from the
//! command line; `nines active study` and `nines active loop` work on a real scored pool).
//!
//! ```text
//! cargo run -p nines-active --release --example study -- [DESIGN] [SVG]
//! ```

use nines_active::Design;
use nines_active::study::{
    StudyConfig, SyntheticConfig, markdown_table, run_study, svg_plot, synthetic,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let design = match args.next().as_deref() {
        None | Some("systematic") => Design::Systematic,
        Some("poisson") => Design::Poisson,
        Some("diverse") => Design::Diverse,
        Some("topk") => Design::TopK,
        Some(other) => return Err(format!("unknown design {other}").into()),
    };
    let svg = args.next();
    let (pool, truth) = synthetic(&SyntheticConfig::default())?;
    let cfg = StudyConfig {
        reps: 200,
        design,
        ..StudyConfig::default()
    };
    let rows = run_study(&pool, &truth, &cfg)?;
    println!(
        "Synthetic calibrated pool of {} pairs, threshold {}, {} labels per draw, {} draws, design {}.\n",
        pool.len(),
        cfg.threshold,
        cfg.budget,
        cfg.reps,
        design.as_str()
    );
    println!("{}", markdown_table(&rows));
    if let Some(path) = svg {
        let title = format!(
            "Misses found per 100 labels (synthetic, {}, {} labels)",
            design.as_str(),
            cfg.budget
        );
        std::fs::write(&path, svg_plot(&rows, &title))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
