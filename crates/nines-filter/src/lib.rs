//! nines-filter (work in progress).
