//! Cluster mode (DESIGN §8): gateway replicas sharing one Redis. Each test starts a real
//! `redis-server` (or `valkey-server`) of its own on a free port and two or three gateways in front
//! of one in-process fake. Without a Redis server on the PATH the tests say so and pass, except
//! under CI (`CI` set), where `.ci/run` installs one and they must run.

mod support;

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{json, Value};
use support::{key, FakeUpstream, Fault, TestApp};

/// A Redis server of the test's own, stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts one, or `None` (outside CI) when no server is installed.
    fn start() -> Option<Redis> {
        let binary = ["valkey-server", "redis-server"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").output().is_ok());
        let Some(binary) = binary else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install redis-server (or valkey-server)"
            );
            eprintln!("no redis-server on the PATH: cluster test skipped");
            return None;
        };
        let port = free_port();
        let redis = Redis {
            child: Command::new(binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts"),
            port,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(redis);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not listen on {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `n` replicas of the gateway sharing `redis`, in front of `fake`.
async fn replicas(
    n: usize,
    fake: &FakeUpstream,
    redis_url: &str,
    tweak: impl Fn(&mut geopf_gateway::config::Config),
) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for _ in 0..n {
        let app = TestApp::start_on(fake.clone(), |c| {
            c.cluster.redis_url = redis_url.to_string();
            c.cluster.job_lease_s = 2;
            tweak(c);
        })
        .await;
        wait_ready(&app).await;
        apps.push(app);
    }
    apps
}

async fn wait_ready(app: &TestApp) {
    for _ in 0..100 {
        if app.http.get(app.url("/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the gateway did not start");
}

async fn search(app: &TestApp, q: &str) -> (u16, String) {
    let r = app
        .get(&format!(
            "/collections/addresses/items?limit=2&q={}",
            q.replace(' ', "+")
        ))
        .await;
    let cache_status = r
        .headers()
        .get("cache-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (r.status().as_u16(), cache_status)
}

async fn cluster_of(app: &TestApp) -> Value {
    app.get_json("/ready").await.2["cluster"].clone()
}

#[tokio::test]
async fn an_answer_fetched_by_one_replica_is_a_hit_on_another() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    let apps = replicas(2, &fake, &redis.url(), |_| {}).await;
    let (status, first) = search(&apps[0], "8 bd du port").await;
    assert_eq!(
        (status, first.as_str()),
        (200, "geopf-gateway; fwd=miss; stored")
    );
    let (status, second) = search(&apps[1], "8 bd du port").await;
    assert_eq!(status, 200);
    assert_eq!(second, "geopf-gateway; hit; detail=shared");
    assert_eq!(fake.count("/geocodage/search"), 1);
    // Then a local hit on B.
    assert_eq!(
        search(&apps[1], "8 bd du port").await.1,
        "geopf-gateway; hit"
    );
    assert_eq!(cluster_of(&apps[0]).await["mode"], "shared");
}

#[tokio::test]
async fn concurrent_identical_misses_across_replicas_make_one_upstream_call() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    // Slow enough that the misses overlap: all but one wait for the first replica's answer.
    fake.fault(
        "/geocodage/search",
        Fault::Slow(Duration::from_millis(300)),
        None,
    );
    let apps = replicas(3, &fake, &redis.url(), |_| {}).await;
    let answers =
        futures::future::join_all((0..12).map(|i| search(&apps[i % 3], "12 rue de la paix paris")))
            .await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert_eq!(fake.count("/geocodage/search"), 1, "{answers:?}");
    assert!(answers.iter().any(|(_, c)| c.contains("detail=shared")));
}

#[tokio::test]
async fn replicas_share_one_upstream_quota() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    fake.enforce_quota("/geocodage", 10);
    let apps = replicas(3, &fake, &redis.url(), |c| {
        c.upstream.quotas.insert("geocoding".into(), 10);
    })
    .await;
    fake.clear_log();
    let queries: Vec<String> = (0..36)
        .map(|i| format!("{i} rue de rivoli paris"))
        .collect();
    let answers = futures::future::join_all(
        queries
            .iter()
            .enumerate()
            .map(|(i, q)| search(&apps[i % 3], q)),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        fake.max_per_second("/geocodage") <= 10,
        "{} requests in one second",
        fake.max_per_second("/geocodage")
    );
}

#[tokio::test]
async fn an_upstream_429_pauses_every_replica() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    let apps = replicas(2, &fake, &redis.url(), |_| {}).await;
    fake.fault(
        "/geocodage/search",
        Fault::Status {
            status: 429,
            retry_after: Some(30),
            body: "{}".into(),
        },
        Some(1),
    );
    assert_eq!(search(&apps[0], "1 rue a").await.0, 429);
    fake.clear_log();
    let r = apps[1]
        .get("/collections/addresses/items?q=2+rue+b&limit=1")
        .await;
    assert_eq!(r.status().as_u16(), 429);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (20..=30).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_eq!(fake.count("/geocodage"), 0, "B called the paused API");
}

#[tokio::test]
async fn a_keys_budget_is_shared_by_the_replicas() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    let apps = replicas(2, &fake, &redis.url(), |c| {
        c.auth.keys = vec![key("alice", "alice-token", 1, 2)];
    })
    .await;
    let call = |app: &TestApp| {
        app.http
            .get(app.url("/collections"))
            .bearer_auth("alice-token")
            .send()
    };
    assert_eq!(call(&apps[0]).await.unwrap().status(), 200);
    assert_eq!(call(&apps[1]).await.unwrap().status(), 200);
    // The burst of 2 is spent, whichever replica answered.
    let third = call(&apps[0]).await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_job_started_on_one_replica_is_followed_fetched_and_dismissed_on_the_others() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    let apps = replicas(3, &fake, &redis.url(), |_| {}).await;
    let created = apps[0]
        .http
        .post(apps[0].url("/processes/geocode/execution"))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"q": "8 bd du port", "limit": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["jobID"]
        .as_str()
        .unwrap()
        .to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = apps[1].get_json(&format!("/jobs/{id}")).await.2;
        if status["status"] == "successful" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status["status"], "successful", "{status}");
    let (code, _, results) = apps[2].get_json(&format!("/jobs/{id}/results")).await;
    assert_eq!(code, 200, "{results}");
    assert!(results.to_string().contains("Feature"), "{results}");
    let listed = apps[2].get_json("/jobs").await.2;
    assert!(listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["jobID"] == id));
    let dismissed = apps[1]
        .http
        .delete(apps[1].url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(dismissed.status(), 200);
    for app in &apps {
        assert_eq!(app.get_json(&format!("/jobs/{id}")).await.0, 404);
    }
}

#[tokio::test]
async fn a_job_of_another_key_stays_invisible_across_replicas() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    let apps = replicas(2, &fake, &redis.url(), |c| {
        c.auth.keys = vec![
            key("alice", "alice-token", 100, 100),
            key("bob", "bob-token", 100, 100),
        ];
    })
    .await;
    let created: Value = apps[0]
        .http
        .post(apps[0].url("/processes/geocode/execution"))
        .bearer_auth("alice-token")
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"q": "8 bd du port"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["jobID"].as_str().unwrap();
    let as_bob = |path: String| {
        apps[1]
            .http
            .get(apps[1].url(&path))
            .bearer_auth("bob-token")
            .send()
    };
    assert_eq!(as_bob(format!("/jobs/{id}")).await.unwrap().status(), 404);
    assert_eq!(
        as_bob(format!("/jobs/{id}/results"))
            .await
            .unwrap()
            .status(),
        404
    );
    let bobs: Value = as_bob("/jobs".into()).await.unwrap().json().await.unwrap();
    assert_eq!(bobs["jobs"].as_array().map(Vec::len), Some(0));
    let alices = apps[1]
        .http
        .get(apps[1].url(&format!("/jobs/{id}")))
        .bearer_auth("alice-token")
        .send()
        .await
        .unwrap();
    assert_eq!(alices.status(), 200);
}

#[tokio::test]
async fn without_redis_a_replica_serves_alone_and_says_so() {
    let fake = FakeUpstream::start().await;
    // Nothing listens there.
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let apps = replicas(1, &fake, &url, |_| {}).await;
    let (status, cache_status) = search(&apps[0], "8 bd du port").await;
    assert_eq!(
        (status, cache_status.as_str()),
        (200, "geopf-gateway; fwd=miss; stored")
    );
    assert_eq!(
        search(&apps[0], "8 bd du port").await.1,
        "geopf-gateway; hit"
    );
    let cluster = cluster_of(&apps[0]).await;
    assert_eq!(cluster["attached"], false, "{cluster}");
    assert!(cluster["last_error"].is_string(), "{cluster}");
    let created = apps[0]
        .http
        .post(apps[0].url("/processes/geocode/execution"))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"q": "8 bd du port"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "jobs run locally without Redis");
    let metrics = apps[0].get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("geopf_cluster_attached 0"), "{metrics}");
}

#[tokio::test]
async fn an_upload_to_one_replica_feeds_a_job_on_another() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    let apps = replicas(2, &fake, &redis.url(), |_| {}).await;
    let uploaded: Value = apps[0]
        .http
        .post(apps[0].url("/uploads"))
        .header("content-type", "text/csv")
        .body("street,city\n8 bd du port,Amiens\n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let href = uploaded["href"].as_str().unwrap();
    let (status, _, body) = apps[1]
        .post_json(
            "/processes/batch-geocode/execution",
            &json!({"inputs": {"data": {"href": href}, "columns": "street,city"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let features = &body["result"]["value"]["features"];
    assert_eq!(features.as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn a_tile_fetched_by_one_replica_is_a_redis_hit_on_another() {
    let Some(redis) = Redis::start() else { return };
    let fake = FakeUpstream::start().await;
    let apps = replicas(2, &fake, &redis.url(), |_| {}).await;
    let path = "/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/6/32/22.png";
    for app in &apps {
        for _ in 0..300 {
            if app.get(path).await.status() != 404 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    fake.clear_log();
    let path = "/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/7/64/44.png";
    assert_eq!(apps[0].get(path).await.status(), 200);
    let second = apps[1].get(path).await;
    assert_eq!(second.status(), 200);
    assert_eq!(
        second.headers()["cache-status"],
        "geopf-gateway; hit; detail=shared"
    );
    assert_eq!(fake.count("/wmts"), 1);
}
