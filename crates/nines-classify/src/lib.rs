//! nines-classify (work in progress).
