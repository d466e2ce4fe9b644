//! Child processes that never outlive the test, bench or devnet that started them.
//!
//! [`ChildProcess::spawn`] asks the kernel to SIGKILL the child when its parent dies
//! (`PR_SET_PDEATHSIG`), so a parent killed with `kill -9` or aborted by a panic leaves
//! nothing running; dropping a [`ChildProcess`] kills it (also while a panic unwinds).
//!
//! The death signal fires when the *thread* that spawned the child exits, not the
//! process: spawn from a thread that outlives the child (a test's own thread, a tokio
//! worker), not from a short-lived helper thread.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A running child process, killed on drop.
#[derive(Debug)]
pub struct ChildProcess {
    child: Child,
    name: String,
    /// The child leads its own process group, which drop kills whole (an npm wrapper
    /// and the program it starts).
    group: bool,
}

impl ChildProcess {
    /// Spawns `cmd`, which dies with this process; `name` is for messages.
    pub fn spawn(name: &str, cmd: Command) -> io::Result<ChildProcess> {
        ChildProcess::start(name, cmd, false)
    }

    /// [`ChildProcess::spawn`] in a new process group, so that killing it also ends the
    /// processes it starts.
    pub fn spawn_group(name: &str, mut cmd: Command) -> io::Result<ChildProcess> {
        cmd.process_group(0);
        ChildProcess::start(name, cmd, true)
    }

    fn start(name: &str, mut cmd: Command, group: bool) -> io::Result<ChildProcess> {
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        Ok(ChildProcess { child, name: name.to_string(), group })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The [`std::process::Child`], e.g. to take its piped stdin or stdout.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its exit status if it has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits until it exits or `timeout` has passed; `None` if it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT (a clean shutdown), unless it has exited already.
    pub fn interrupt(&mut self) {
        self.signal(libc::SIGINT);
    }

    /// Asks it to stop (SIGINT), and kills it if it has not exited within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        self.interrupt();
        let _ = self.wait_timeout(grace);
        self.kill();
    }

    /// Kills it (SIGKILL, its whole group if it has one: no chance to clean up) and reaps it.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn signal(&mut self, signal: libc::c_int) {
        // A reaped child's pid may belong to another process by now: signal only a live one.
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2)/killpg(2) only send a signal, to a child we started and have not reaped.
        unsafe {
            if self.group {
                libc::killpg(pid, signal);
            } else {
                libc::kill(pid, signal);
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: u32) -> bool {
        // Signal 0 checks that the process exists; a zombie (not reaped) counts as gone here
        // because drop reaps it.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }

    #[test]
    fn drop_kills_the_child_and_its_group() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & echo $! ; wait"]).stdout(std::process::Stdio::piped());
        let mut p = ChildProcess::spawn_group("sh", cmd).unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(p.child().stdout.take().unwrap()), &mut line).unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        let pid = p.id();
        assert!(alive(grandchild));
        drop(p);
        assert!(!alive(pid));
        // The grandchild is init's to reap now; give the kernel a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        while is_running(grandchild) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!is_running(grandchild), "the group's other process survived");
    }

    #[test]
    fn stop_interrupts_and_wait_timeout_reports_a_running_child() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let mut p = ChildProcess::spawn("sleep", cmd).unwrap();
        assert_eq!(p.wait_timeout(Duration::from_millis(50)).unwrap(), None);
        let started = Instant::now();
        p.stop(Duration::from_secs(5));
        // sleep dies of SIGINT at once; the grace period is not waited out.
        assert!(started.elapsed() < Duration::from_secs(4));
        assert!(p.try_wait().unwrap().is_some());
    }

    /// Not a zombie: /proc/<pid>/stat's state is not Z (or the process is gone).
    fn is_running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
            .unwrap_or(false)
    }
}
