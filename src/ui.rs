//! The terminal side of long work: progress bars and spinners on stderr,
//! only when stderr is a terminal and the run is not `--quiet` (the
//! contract: stdout carries data only, and cron mail stays clean).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Ui {
    /// Progress bars allowed (stderr is a terminal and not --quiet).
    pub progress: bool,
}

impl Ui {
    /// A bar of `len` steps drawn with `template` (indicatif's syntax), or a
    /// hidden one that costs nothing when progress is off.
    pub fn bar(&self, len: u64, template: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            pb.set_style(style);
        }
        pb
    }

    /// A spinner for work of unknown length, ticking on its own so that a
    /// long silent step still shows life.
    pub fn spinner(&self, message: String) -> Option<ProgressBar> {
        self.progress.then(|| {
            let s = ProgressBar::new_spinner();
            s.set_message(message);
            s.enable_steady_tick(Duration::from_millis(200));
            s
        })
    }
}
