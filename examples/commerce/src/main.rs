//! `commerce`: runs the payment provider alone (`commerce provider`), or the shop with its own
//! provider beside it (`commerce serve`).

fn main() {}
