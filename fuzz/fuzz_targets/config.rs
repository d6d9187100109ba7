//! AFL++ harness for [`netpol_fuzz::config`]. Build and run with `fuzz/run.sh config SECONDS`.
fn main() {
    afl::fuzz!(|data: &[u8]| netpol_fuzz::config(data));
}
