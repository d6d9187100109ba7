//! AFL++ harness for [`netpol_fuzz::render`]. Build and run with `fuzz/run.sh render SECONDS`.
fn main() {
    afl::fuzz!(|data: &[u8]| netpol_fuzz::render(data));
}
