//! What `netpol verify` shows while it runs: each verdict line of the human format as soon
//! as it is decided (the machine formats stay one document at the end), and on a terminal
//! a progress line on stderr once a run has taken a second. Never in CI (`CI` set) or
//! when stderr is not a terminal.

use std::io::{self, IsTerminal as _, Write as _};
use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netpol_smt::AssertionResult;

/// How long a run goes before the progress line appears.
const QUIET: Duration = Duration::from_secs(1);

pub(crate) struct Live {
    /// Stream verdict lines to stdout (human format).
    stream: bool,
    bar: Option<ProgressBar>,
    /// Ends the thread that shows the bar after [`QUIET`].
    stop: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    /// The first write error (a closed pipe): the final write reports it.
    error: Option<io::Error>,
}

/// Whether a progress line may be drawn: stderr is a terminal and this is not CI.
fn progress_wanted() -> bool {
    io::stderr().is_terminal() && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

impl Live {
    pub(crate) fn new(stream: bool) -> Live {
        Live {
            stream,
            bar: None,
            stop: None,
            error: None,
        }
    }

    /// `total` assertions are about to be decided.
    pub(crate) fn start(&mut self, total: usize) {
        if !progress_wanted() || total == 0 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {pos}/{len} assertions decided ({elapsed})")
        {
            bar.set_style(style);
        }
        let (tx, rx) = mpsc::channel::<()>();
        let shown = bar.clone();
        let shower = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(QUIET) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(120));
            }
        });
        self.bar = Some(bar);
        self.stop = Some((tx, shower));
    }

    /// One assertion is decided; `line` renders its verdict line.
    pub(crate) fn result(
        &mut self,
        r: &AssertionResult,
        line: impl Fn(&AssertionResult) -> String,
    ) {
        if self.stream && self.error.is_none() {
            let text = line(r);
            let write = || {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            };
            let res = match &self.bar {
                Some(bar) => bar.suspend(write),
                None => write(),
            };
            self.error = res.err();
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Removes the progress line; returns the first error writing a streamed line.
    pub(crate) fn finish(&mut self) -> Option<io::Error> {
        if let Some((tx, shower)) = self.stop.take() {
            drop(tx);
            let _ = shower.join();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.error.take()
    }

    /// Whether the verdict lines were already written.
    pub(crate) fn streamed(&self) -> bool {
        self.stream
    }
}
