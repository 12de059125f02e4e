//! Jobs: each command of the binary as one library function taking an
//! `*Options` struct, running the stages in data-flow order and writing the
//! outputs. Jobs return summaries; they never print.

pub mod features;
pub mod score;
pub mod train;
