//! nines-estimate (work in progress).
