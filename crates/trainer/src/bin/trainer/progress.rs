//! Progress while training: one bar for all workers on a terminal, plain lines otherwise.

use indicatif::ProgressBar;
use trainer::report::EvalPoint;
use trainer::{Observer, Progress};

/// Progress: one bar for all workers on a terminal, plain lines otherwise.
pub struct Display {
    pub bar: Option<ProgressBar>,
    pub plain: bool,
    pub last_line: f64,
}

impl Observer for Display {
    fn progress(&mut self, p: &Progress) {
        if let Some(bar) = &self.bar {
            bar.set_position((p.epochs / p.total_epochs * 1000.0) as u64);
            bar.set_message(format!(
                "epoch {:.2}/{} · {} updates · {:.0} upd/s · loss {:.4}",
                p.epochs, p.total_epochs, p.updates, p.updates_per_second, p.trailing_loss
            ));
        } else if self.plain && p.seconds - self.last_line >= 5.0 {
            eprintln!(
                "[{:7.1}s] epoch {:.2}/{}  updates {}  {:.0} upd/s  mini-batch loss {:.4}",
                p.seconds,
                p.epochs,
                p.total_epochs,
                p.updates,
                p.updates_per_second,
                p.trailing_loss
            );
            self.last_line = p.seconds;
        }
    }

    fn evaluated(&mut self, e: &EvalPoint) {
        let line = format!("[{:7.1}s] eval: train-subset loss {:.4}  test loss {:.4}  test accuracy {:.2}%  ({} updates)", e.seconds, e.train_loss, e.test_loss, 100.0 * e.test_accuracy, e.updates);
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.plain => eprintln!("{line}"),
            None => {}
        }
    }
}
