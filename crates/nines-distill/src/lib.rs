//! nines-distill (work in progress).
