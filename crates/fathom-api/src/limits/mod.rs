//! Rate limits on the whole `/api/v1` surface, per caller and route class ([`ApiRateLimits`],
//! `[rate_limits]` in `fathom.toml`): an anonymous caller is counted by client address (trusted
//! proxies honoured, `crate::client_ip`), a signed-in user by user id under the most generous
//! of their roles' quotas (or `default`), an API key by key id. Each (caller, class) has one
//! GCRA bucket in the [`fathom_limits::Limiter`], shared by every node through Redis when
//! `redis.url` is set. `enforce.rs` is the middleware; `headers.rs` renders the
//! draft-ietf-httpapi-ratelimit-headers fields and the 429, for these limits and the auth
//! routes' own (`crate::rate_limit`).

mod enforce;
pub(crate) mod headers;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use fathom_limits::Quota;

pub(crate) use enforce::enforce;

/// The families of routes limited apart, so that one kind of traffic cannot use up another's
/// budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// `GET`/`HEAD` of records and the change feed.
    Read,
    /// Creates, updates, deletes and batches.
    Write,
    /// Everything under `/api/v1/auth`.
    Auth,
    /// Everything under `/api/v1/admin`.
    Admin,
    /// Realtime connections and tickets (`/api/v1/realtime`).
    Realtime,
}

impl RouteClass {
    pub const ALL: [Self; 5] = [
        Self::Read,
        Self::Write,
        Self::Auth,
        Self::Admin,
        Self::Realtime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Auth => "auth",
            Self::Admin => "admin",
            Self::Realtime => "realtime",
        }
    }

    /// The class of a request to `/api/v1/{rest}`.
    pub fn of(rest: &str, method: &axum::http::Method) -> Self {
        let first = rest.split('/').next().unwrap_or_default();
        match first {
            "auth" => Self::Auth,
            "admin" => Self::Admin,
            "realtime" => Self::Realtime,
            _ if method.is_safe() => Self::Read,
            _ => Self::Write,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One quota per route class (`None`: that class is not limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassQuotas {
    pub read: Option<Quota>,
    pub write: Option<Quota>,
    pub auth: Option<Quota>,
    pub admin: Option<Quota>,
    pub realtime: Option<Quota>,
}

impl ClassQuotas {
    pub fn get(&self, class: RouteClass) -> Option<Quota> {
        match class {
            RouteClass::Read => self.read,
            RouteClass::Write => self.write,
            RouteClass::Auth => self.auth,
            RouteClass::Admin => self.admin,
            RouteClass::Realtime => self.realtime,
        }
    }
}

/// The data API's limits (`[rate_limits]`), each table complete (the configuration has already
/// filled a role's unset classes from `default`).
#[derive(Debug, Clone)]
pub struct ApiRateLimits {
    /// `rate_limits.enabled`: off, no request is counted and no field is sent.
    pub enabled: bool,
    /// Per client address, for callers without credentials.
    pub anonymous: ClassQuotas,
    /// Per user, for signed-in users whose roles have no table of their own.
    pub default: ClassQuotas,
    /// Per API key.
    pub api_keys: ClassQuotas,
    /// Per user, by role; a user with several listed roles gets the most generous quota.
    pub roles: BTreeMap<String, ClassQuotas>,
}

impl ApiRateLimits {
    /// No limits at all.
    pub fn off() -> Self {
        let none = ClassQuotas {
            read: None,
            write: None,
            auth: None,
            admin: None,
            realtime: None,
        };
        Self {
            enabled: false,
            anonymous: none,
            default: none,
            api_keys: none,
            roles: BTreeMap::new(),
        }
    }

    /// The policy for a signed-in user with `roles`: its name (`default.read`,
    /// `roles.editor.write`) and quota.
    fn for_user(&self, roles: &[String], class: RouteClass) -> (String, Option<Quota>) {
        let best = roles
            .iter()
            .filter_map(|role| self.roles.get(role).map(|table| (role, table.get(class))))
            .max_by(|(_, a), (_, b)| generosity(a).total_cmp(&generosity(b)));
        match best {
            Some((role, quota)) => (format!("roles.{role}.{}", class.as_str()), quota),
            None => (
                format!("default.{}", class.as_str()),
                self.default.get(class),
            ),
        }
    }
}

/// Requests a second a quota allows (no limit is the most generous).
fn generosity(quota: &Option<Quota>) -> f64 {
    quota.map_or(f64::INFINITY, |q| {
        f64::from(q.count) / q.window.as_secs_f64().max(1e-9)
    })
}

/// Requests the data-API limits refused, by route class, for `/metrics`.
#[derive(Default)]
pub struct Rejections([AtomicU64; 5]);

impl Rejections {
    fn count(&self, class: RouteClass) {
        self.0[class.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// `(class, refused)` of every class.
    pub fn snapshot(&self) -> [(&'static str, u64); 5] {
        RouteClass::ALL.map(|c| (c.as_str(), self.0[c.index()].load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn routes_fall_into_their_class() {
        assert_eq!(
            RouteClass::of("auth/login", &Method::POST),
            RouteClass::Auth
        );
        assert_eq!(
            RouteClass::of("admin/users", &Method::GET),
            RouteClass::Admin
        );
        assert_eq!(
            RouteClass::of("realtime/ws", &Method::GET),
            RouteClass::Realtime
        );
        assert_eq!(RouteClass::of("posts", &Method::GET), RouteClass::Read);
        assert_eq!(RouteClass::of("posts/1", &Method::HEAD), RouteClass::Read);
        assert_eq!(RouteClass::of("posts", &Method::POST), RouteClass::Write);
        assert_eq!(
            RouteClass::of("posts/1", &Method::DELETE),
            RouteClass::Write
        );
        assert_eq!(RouteClass::of("batch", &Method::POST), RouteClass::Write);
    }

    #[test]
    fn a_user_gets_the_most_generous_of_their_roles() {
        let q = |n| Some(Quota::per_minute(n));
        let table = |n| ClassQuotas {
            read: q(n),
            write: q(n),
            auth: q(n),
            admin: q(n),
            realtime: q(n),
        };
        let mut limits = ApiRateLimits::off();
        limits.default = table(10);
        limits.roles.insert("editor".into(), table(100));
        limits.roles.insert("bot".into(), table(1000));
        let roles = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            limits.for_user(&roles(&[]), RouteClass::Read),
            ("default.read".into(), q(10))
        );
        assert_eq!(
            limits.for_user(&roles(&["editor", "bot"]), RouteClass::Write),
            ("roles.bot.write".into(), q(1000))
        );
        assert_eq!(
            limits.for_user(&roles(&["unknown"]), RouteClass::Read),
            ("default.read".into(), q(10))
        );
    }
}
