//! Progress bars on standard error, one style for every long step (pipeline stages and the
//! `nines` commands).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps labeled `what`: position, elapsed time and the time left.
///
/// ```
/// let pb = nines::progress::bar(3, "labels");
/// pb.inc(3);
/// pb.finish_and_clear();
/// ```
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}
