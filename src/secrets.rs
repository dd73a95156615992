//! What a secret is replaced with wherever it would be shown.

pub const MASK: &str = "********";
