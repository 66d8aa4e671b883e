//! nines-active (work in progress).
