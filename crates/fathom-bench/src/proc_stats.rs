//! A process's resident memory (`/proc/<pid>/status`, `VmRSS`) and CPU time (`/proc/<pid>/stat`,
//! user plus system), Linux only. CPU time per request separates a server's own cost from the
//! load generator's, which shares the machine.

/// `VmRSS` from the text of a `/proc/<pid>/status` file, in KiB.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The resident memory of process `pid` in MiB, or `None` when it cannot be read (the process
/// ended, or this is not Linux).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss_kib(&status).map(|kib| kib as f64 / 1024.0)
}

/// User plus system CPU time, in clock ticks, from the text of a `/proc/<pid>/stat` file. The
/// command name (field 2) may hold spaces and parentheses, so fields are counted after the last
/// `)`: the state is field 3, `utime` field 14 and `stime` field 15.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks a second for `/proc` CPU times (`USER_HZ`, 100 on every mainstream Linux build).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time process `pid` has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tfathom\nVmPeak:\t  200000 kB\nVmRSS:\t   15360 kB\nThreads:\t7\n";
        assert_eq!(parse_vm_rss_kib(status), Some(15360));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn reads_cpu_ticks_after_the_command_name() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 2619 0 0 0 150 25 0 0 20 0 7 0 \
                    1234 100000 3000 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(175));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn reads_this_process() {
        let mib = rss_mib(std::process::id()).expect("this process has a /proc entry");
        assert!(mib > 0.0);
        assert!(cpu_seconds(std::process::id()).is_some());
    }
}
