//! AFL++ harness for [`netpol_fuzz::load`]. Build and run with `fuzz/run.sh load SECONDS`.
fn main() {
    afl::fuzz!(|data: &[u8]| netpol_fuzz::load(data));
}
