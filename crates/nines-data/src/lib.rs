//! nines-data (work in progress).
