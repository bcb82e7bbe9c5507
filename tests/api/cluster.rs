//! Two `kedian serve` processes behind nginx (the kit's own site file, deploy/nginx.conf), sharing
//! PostgreSQL, Redis and the S3-compatible server: what an operator runs when one machine is not
//! enough. Besides the site, nginx gets one "pinned" TLS port per instance, so that a step can be
//! made on a chosen instance with the same browser (cookies are per host, not per port).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::cookie::Jar;
use tokio::process::{Child, Command};

use crate::helpers::{Browser, csrf_in, location, skip, totp_code, totp_secret_in};

const SLUG: &str = "excel-data-analysis";
const METRICS_TOKEN: &str = "cluster-metrics-token";
const ADMIN: &str = "13900000009";
const ADMIN_PASSWORD: &str = "cluster-admin-pass";
const BUYER_PASSWORD: &str = "buyer-pass-2026";

struct Services {
    redis: String,
    s3: String,
    nginx: PathBuf,
}

fn services() -> Option<Services> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let nginx = var("KEDIAN_TEST_NGINX").map(PathBuf::from).or_else(|| {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].iter().map(PathBuf::from).find(|p| p.exists())
    });
    match (var("KEDIAN_TEST_POSTGRES_URL"), var("KEDIAN_TEST_REDIS_URL"), var("KEDIAN_TEST_S3_URL"), nginx) {
        (Some(_postgres), Some(redis), Some(s3), Some(nginx)) => Some(Services { redis, s3, nginx }),
        _ => {
            skip("the cluster needs KEDIAN_TEST_POSTGRES_URL, KEDIAN_TEST_REDIS_URL, KEDIAN_TEST_S3_URL and nginx");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// One `kedian serve` process.
struct Instance {
    port: u16,
    child: Child,
}

struct Cluster {
    dir: tempfile::TempDir,
    database_url: String,
    /// The site: nginx with the kit's configuration, balancing over both instances.
    site: String,
    /// nginx ports that reach one instance each.
    pinned: [String; 2],
    instances: Vec<Instance>,
    nginx: Child,
    env: Vec<(String, String)>,
}

impl Cluster {
    async fn start(services: &Services) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = crate::helpers::fresh_postgres_database().await.expect("a PostgreSQL database");
        let bucket = format!("kedian-cluster-{}", hex::encode(rand::random::<[u8; 6]>()));
        let made = reqwest::Client::new().put(format!("{}/{bucket}", services.s3)).send().await.expect("S3 reachable");
        assert!(made.status().is_success(), "bucket created");
        let storage = dir.path().join("storage.toml");
        std::fs::write(
            &storage,
            format!(
                "service = \"s3\"\nbucket = \"{bucket}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
                 access_key_id = \"test\"\nsecret_access_key = \"test\"\nroot = \"/shop\"\n",
                services.s3
            ),
        )
        .expect("storage config");

        let [a, b, http, https, pin_a, pin_b] = [(); 6].map(|_| free_port());
        let env: Vec<(String, String)> = [
            ("KEDIAN_DATABASE_URL", database_url.clone()),
            ("KEDIAN_REDIS_URL", services.redis.clone()),
            ("KEDIAN_SESSION_KEY", hex::encode(rand::random::<[u8; 32]>())),
            ("KEDIAN_STORAGE_CONFIG", storage.display().to_string()),
            ("KEDIAN_PUBLIC_URL", format!("https://127.0.0.1:{https}")),
            ("KEDIAN_TRUST_FORWARDED", "true".into()),
            ("KEDIAN_METRICS_TOKEN", METRICS_TOKEN.into()),
            ("KEDIAN_ALLOW_SANDBOX", "true".into()),
            // As the kit expects: the shop checks, nginx sends the lesson bytes from the bucket.
            ("KEDIAN_MEDIA_ACCEL", "true".into()),
            // Longer than the 2 s a price change may take to show, so that only the change
            // notification (not the periodic re-read) can bring it in time.
            ("KEDIAN_JOB_INTERVAL_SECS", "5".into()),
            ("KEDIAN_LOG_FORMAT", "json".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

        let nginx = start_nginx(dir.path(), &services.nginx, &services.s3, [a, b], http, https, [pin_a, pin_b]).await;
        let mut cluster = Cluster {
            database_url,
            site: format!("https://127.0.0.1:{https}"),
            pinned: [format!("https://127.0.0.1:{pin_a}"), format!("https://127.0.0.1:{pin_b}")],
            instances: Vec::new(),
            nginx,
            env,
            dir,
        };
        // The first instance makes the schema and loads the demo catalog into the new database.
        cluster.start_instance("a", a).await;
        // An upgrade runs `kedian migrate` while the old instances serve; here it finds nothing to do.
        let migrate = kedian(cluster.dir.path(), &cluster.env, "migrate").arg("migrate").output().await;
        let migrate = migrate.expect("kedian migrate");
        assert!(migrate.status.success(), "kedian migrate beside a running instance");
        let said = String::from_utf8_lossy(&migrate.stdout);
        assert!(said.contains("schema up to date"), "kedian migrate: {said}");
        cluster.start_instance("b", b).await;
        cluster.create_admin().await;
        cluster
    }

    /// `kedian user create-admin`, the password on standard input, as the README says.
    async fn create_admin(&self) {
        use tokio::io::AsyncWriteExt;
        let mut admin = kedian(self.dir.path(), &self.env, "admin")
            .args(["user", "create-admin", "--phone", ADMIN])
            .stdin(Stdio::piped())
            .spawn()
            .expect("kedian user create-admin");
        let mut stdin = admin.stdin.take().expect("stdin");
        stdin.write_all(format!("{ADMIN_PASSWORD}\n").as_bytes()).await.expect("password");
        drop(stdin);
        assert!(admin.wait().await.expect("create-admin").success());
    }

    async fn start_instance(&mut self, name: &'static str, port: u16) {
        let child = kedian(self.dir.path(), &self.env, name)
            .arg("serve")
            .env("KEDIAN_LISTEN", format!("127.0.0.1:{port}"))
            .spawn()
            .expect("kedian serve");
        let ready = format!("http://127.0.0.1:{port}/readyz");
        let started = Instant::now();
        loop {
            if reqwest::get(&ready).await.is_ok_and(|r| r.status() == StatusCode::OK) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "instance {name} never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.instances.push(Instance { port, child });
    }

    fn browser(&self, forwarded_for: &str) -> Browser {
        self.browser_with(&[("x-forwarded-for", forwarded_for)])
    }

    /// A browser that sends these headers with every request.
    fn browser_with(&self, sent: &[(&'static str, &str)]) -> Browser {
        let jar = Arc::new(Jar::default());
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in sent {
            headers.insert(*name, value.parse().expect("header"));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .default_headers(headers)
            // The site's certificate is made by this test for 127.0.0.1.
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Browser { address: self.site.clone(), client, jar }
    }

    async fn db(&self) -> (sqlx::PgPool, kedian::store::Db) {
        let pool = sqlx::PgPool::connect(&self.database_url).await.expect("database");
        (pool, kedian::store::Db::connect(&self.database_url).await.expect("database"))
    }

    /// Counters of one instance's /metrics, read directly from it.
    async fn metric(&self, instance: usize, name_and_labels: &str) -> f64 {
        let port = self.instances[instance].port;
        let text = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|line| line.starts_with(name_and_labels))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for name in ["a", "b"] {
            let log = std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            all.push_str(&format!("--- {name}\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
        }
        all
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            let _ = instance.child.start_kill();
        }
        // SIGTERM: nginx's master stops its workers (SIGKILL would leave them running).
        if let Some(pid) = self.nginx.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
    }
}

fn kedian(dir: &Path, env: &[(String, String)], log: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kedian"));
    let log = std::fs::File::create(dir.join(format!("{log}.log"))).expect("log file");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEDIAN_DATA_DIR", dir.join(format!("data-{}", rand::random::<u32>())))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true);
    cmd
}

/// The kit's site, changed only where a machine differs: ports, certificate and cache paths.
fn site_config(dir: &Path, s3: &str, instances: [u16; 2], http: u16, https: u16) -> String {
    let kit = include_str!("../../deploy/nginx.conf");
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let replacements = [
        (
            "    server 127.0.0.1:8080 max_fails=3 fail_timeout=10s;\n",
            format!(
                "    server 127.0.0.1:{} max_fails=3 fail_timeout=10s;\n    server 127.0.0.1:{} max_fails=3 fail_timeout=10s;\n",
                instances[0], instances[1]
            ),
        ),
        ("    listen 80;\n", format!("    listen 127.0.0.1:{http};\n")),
        ("    listen [::]:80;\n", String::new()),
        ("    listen 443 ssl http2 backlog=4096;\n", format!("    listen 127.0.0.1:{https} ssl http2 backlog=4096;\n")),
        ("    listen [::]:443 ssl http2 backlog=4096;\n", String::new()),
        ("/etc/letsencrypt/live/shop.example.com/fullchain.pem", cert),
        ("/etc/letsencrypt/live/shop.example.com/privkey.pem", key),
        ("/var/cache/nginx/kedian", dir.join("cache").display().to_string()),
        ("https://s3.cn-north-1.amazonaws.com.cn/", format!("{s3}/")),
        ("/var/lib/kedian/media/", format!("{}/", dir.join("media").display())),
    ];
    let mut site = kit.to_string();
    for (from, to) in replacements {
        assert!(site.contains(from), "deploy/nginx.conf changed: {from:?} is gone; update this test");
        site = site.replace(from, &to);
    }
    site
}

async fn start_nginx(
    dir: &Path,
    nginx: &Path,
    s3: &str,
    instances: [u16; 2],
    http: u16,
    https: u16,
    pinned: [u16; 2],
) -> Child {
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .await
        .expect("openssl");
    assert!(made.status.success(), "certificate: {}", String::from_utf8_lossy(&made.stderr));
    let site = site_config(dir, s3, instances, http, https);
    // The pinned ports carry the kit's bucket location too, as every nginx in front of the shop must.
    let bucket = site.find("    location /_kedian_bucket/").expect("the kit's bucket location");
    let bucket = &site[bucket..];
    let bucket = &bucket[..bucket.find("\n    }\n").expect("its end") + 7];
    std::fs::write(dir.join("site.conf"), &site).expect("site");
    let d = dir.display();
    let pin = |listen: u16, to: u16| {
        format!(
            "server {{ listen 127.0.0.1:{listen} ssl; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
             location / {{ proxy_pass http://127.0.0.1:{to}; proxy_set_header Host $host;\n\
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto https; }}\n{bucket}}}\n"
        )
    };
    // The test's browsers all connect from 127.0.0.1: the realip lines stand for a load balancer in
    // front of nginx that says who the client is (the shop believes only what nginx appends).
    // As root, nginx's workers would drop to `nobody`, who cannot write this test's directories.
    use std::os::unix::fs::MetadataExt;
    let as_root = std::fs::metadata(dir).map(|m| m.uid() == 0).unwrap_or(false);
    let main = format!(
        "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n access_log off;\n set_real_ip_from 127.0.0.1;\n real_ip_header X-Forwarded-For;\n client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         include {d}/site.conf;\n{}{}}}\n",
        pin(pinned[0], instances[0]),
        pin(pinned[1], instances[1]),
        user = if as_root { "user root;\n" } else { "" },
    );
    std::fs::write(dir.join("nginx.conf"), main).expect("nginx.conf");
    let conf = dir.join("nginx.conf");
    let checked =
        Command::new(nginx).arg("-t").arg("-p").arg(dir).arg("-c").arg(&conf).output().await.expect("nginx -t");
    assert!(checked.status.success(), "nginx -t: {}", String::from_utf8_lossy(&checked.stderr));
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", https)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

/// Signs in to the back office with the password and an enrolled authenticator.
async fn staff_sign_in(browser: &Browser) {
    let sent = browser.submit("/admin/login", "/admin/login", &[("phone", ADMIN), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "admin password accepted");
    let (_, page) = browser.get_html("/admin/login/verify").await;
    let secret = totp_secret_in(&page).expect("first sign-in enrols an authenticator");
    let code = totp_code(&secret, kedian::domain::time::now());
    let done = browser.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
    // The first time, the answer is the page of recovery codes; afterwards a redirect.
    assert!(matches!(done.status(), StatusCode::OK | StatusCode::SEE_OTHER), "TOTP accepted");
    let (status, _) = browser.get_html("/admin").await;
    assert_eq!(status, StatusCode::OK, "signed in to the back office");
}

async fn make_buyer(db: &kedian::store::Db, phone: &str) {
    use kedian::domain::{Phone, staff::Role};
    let hash = kedian::auth::password::hash(BUYER_PASSWORD.to_string()).await.expect("hash");
    let phone = Phone::parse(phone).expect("phone");
    let now = kedian::domain::time::now();
    kedian::store::users::create(db, &phone, "学员", Some(&hash), Role::Learner, now).await.expect("buyer");
}

async fn sign_in(browser: &Browser, phone: &str) {
    let done = browser.login_by_password(phone, BUYER_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{phone} signs in");
}

async fn status_of(db: &sqlx::PgPool, order_no: &str) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(db)
        .await
        .expect("order")
}

/// The course page's price as shown, e.g. "¥199.00".
fn shows_price(html: &str, yuan: &str) -> bool {
    html.contains(&format!("¥{yuan}")) || html.contains(&format!("¥ {yuan}"))
}

#[tokio::test]
async fn two_instances_behind_nginx() {
    let Some(services) = services() else { return };
    let cluster = Cluster::start(&services).await;
    let (db, store) = cluster.db().await;
    let run = Instant::now();

    // A learner buys through instance a, and learns through instance b.
    make_buyer(&store, "13700000100").await;
    let learner = cluster.browser("10.1.0.100");
    let on_a = learner.at(&cluster.pinned[0]);
    let on_b = learner.at(&cluster.pinned[1]);
    sign_in(&on_a, "13700000100").await;
    let lesson: i64 = sqlx::query_scalar(
        "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id \
         WHERE c.slug = $1 AND l.free_preview = 0 AND l.kind = 'video' ORDER BY l.id LIMIT 1",
    )
    .bind(SLUG)
    .fetch_one(&db)
    .await
    .expect("a paid lesson");
    let lesson_page = format!("/courses/{SLUG}/lessons/{lesson}");
    let media_on = |page: &str| {
        crate::helpers::unescape(page)
            .split("src=\"/media/")
            .nth(1)
            .map(|rest| format!("/media/{}", rest.split('"').next().unwrap_or_default()))
    };
    // b keeps in memory what the learner's pages read (session, account, what they own), so
    // these copies go stale when a buys: a's announcement must reach b.
    for _ in 0..2 {
        let (status, page) = on_b.get_html(&lesson_page).await;
        assert!(media_on(&page).is_none(), "not bought yet: {status}");
        assert_eq!(on_b.get_html("/me/courses").await.0, StatusCode::OK);
    }
    let order_no = on_a.order_for(SLUG).await;
    let paid = on_a.pay_sandbox(&order_no).await;
    assert!(paid.status().is_redirection(), "cashier: {}", paid.status());
    assert_eq!(status_of(&db, &order_no).await, "paid");
    let bought = Instant::now();
    let media = loop {
        let (status, page) = on_b.get_html(&lesson_page).await;
        if let Some(media) = media_on(&page) {
            break media;
        }
        assert!(bought.elapsed() < Duration::from_secs(5), "b still refuses the lesson 5 s after a sold it: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let access_seen_after = bought.elapsed();
    // The URL b signed plays from a, out of the shared bucket.
    let video = on_a.get(&media).await;
    assert_eq!(video.status(), StatusCode::OK, "a signed URL works on the other instance");
    assert!(!video.bytes().await.expect("video").is_empty());
    media_sent_by_nginx(&cluster, &learner, &media).await;
    // A form from b's page, posted to a: the CSRF token holds across instances.
    let (_, me) = on_b.get_html("/me").await;
    let token = csrf_in(&me);
    let read = on_a.client.post(on_a.url("/me/messages/read")).form(&[("csrf_token", token.as_str())]).send().await;
    let read = read.expect("POST");
    assert_eq!(location(&read), "/me/messages", "a form from b is accepted by a: {}", read.status());

    // Signed out on a, the session is gone on b too.
    assert_eq!(on_b.get_html("/me").await.0, StatusCode::OK);
    assert_eq!(on_a.logout().await.status(), StatusCode::SEE_OTHER);
    let signed_out = Instant::now();
    loop {
        let me = on_b.get("/me").await;
        if me.status().is_redirection() && location(&me).starts_with("/login") {
            break;
        }
        assert!(signed_out.elapsed() < Duration::from_secs(5), "b still serves the session 5 s after sign-out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sign_out_seen_after = signed_out.elapsed();
    sign_in(&on_a, "13700000100").await;

    // /metrics counts the paid order, once, across the instances.
    let paid_total = cluster.metric(0, "orders_paid_total").await + cluster.metric(1, "orders_paid_total").await;
    assert_eq!(paid_total, 1.0, "one paid order counted");

    // Staff change a price on a; b serves it within 2 s.
    let staff = cluster.browser("10.1.0.1").at(&cluster.pinned[0]);
    staff_sign_in(&staff).await;
    let (id, title, kind, category, instructor, original, description, window, consumed): (
        i64,
        String,
        String,
        i64,
        i64,
        i64,
        String,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT id, title, kind, category_id, instructor_id, original_price_fen, description, \
         refund_window_days, refund_max_consumed_pct FROM courses WHERE slug = $1",
    )
    .bind(SLUG)
    .fetch_one(&db)
    .await
    .expect("course");
    let visitor = cluster.browser("10.1.0.2").at(&cluster.pinned[1]);
    let (_, before) = visitor.get_html(&format!("/courses/{SLUG}")).await;
    assert!(!shows_price(&before, "88.80"));
    let editor = format!("/admin/courses/{id}");
    let fields = [
        ("title", title),
        ("slug", SLUG.to_string()),
        ("kind", kind),
        ("category_id", category.to_string()),
        ("instructor_id", instructor.to_string()),
        ("price", "88.80".to_string()),
        ("original_price", format!("{}.{:02}", original / 100, original % 100)),
        ("description", description),
        ("refund_window_days", window.to_string()),
        ("refund_max_consumed_pct", consumed.to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let edited = staff.submit(&editor, &editor, &fields).await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER, "price saved on a");
    let saved_at = Instant::now();
    loop {
        let (_, page) = visitor.get_html(&format!("/courses/{SLUG}")).await;
        if shows_price(&page, "88.80") {
            break;
        }
        assert!(saved_at.elapsed() < Duration::from_secs(15), "b still shows the old price after 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let propagation = saved_at.elapsed();

    // What a client writes about its own address is not believed behind the kit's nginx: every
    // guess below names a new address in `Forwarded` and in an X-Forwarded-For entry of its own,
    // but the load balancer's entry (the last) is the same, and it is the one limited.
    let mut guesses = 0;
    loop {
        guesses += 1;
        assert!(guesses <= 31, "still heard after {guesses} wrong passwords from one address");
        let forged = format!("198.51.100.{guesses}");
        let forger = cluster.browser_with(&[
            ("x-forwarded-for", &format!("{forged}, 10.1.0.77")),
            ("forwarded", &format!("for={forged}")),
        ]);
        // A different unknown phone each time: only the address's limit can stop these.
        let answer = forger.login_by_password(&format!("1370000{guesses:04}"), "not-the-password").await;
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "guess {guesses}");
    }
    assert_eq!(guesses, 31, "limited after 30 wrong guesses");

    // Exactly one instance expires an order.
    make_buyer(&store, "13700000101").await;
    let late = cluster.browser("10.1.0.101");
    sign_in(&late, "13700000101").await;
    let unpaid = late.order_for(SLUG).await;
    sqlx::query("UPDATE orders SET expires_at = $1 WHERE order_no = $2")
        .bind(kedian::domain::time::now() - 1)
        .bind(&unpaid)
        .execute(&db)
        .await
        .expect("age order");
    let aged = Instant::now();
    while status_of(&db, &unpaid).await == "pending" {
        assert!(aged.elapsed() < Duration::from_secs(15), "nobody expired the order\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status_of(&db, &unpaid).await, "closed");
    let expired = [cluster.metric(0, "orders_expired_total").await, cluster.metric(1, "orders_expired_total").await];
    assert_eq!(expired[0] + expired[1], 1.0, "one instance expired it: {expired:?}");
    let runs = [
        cluster.metric(0, "job_runs_total{job=\"orders\"}").await,
        cluster.metric(1, "job_runs_total{job=\"orders\"}").await,
    ];
    assert!(runs.iter().filter(|r| **r > 0.0).count() == 1, "the order job runs on one instance: {runs:?}");

    let before_kill = run.elapsed();
    let (paid_orders, retried, done_at_kill) = pay_through_a_crash(cluster, db.clone(), &store).await;
    assert_eq!(paid_orders, 20, "every buyer's payment is kept");
    eprintln!(
        "cluster: buy on a and learn on b (seen on b after {access_seen_after:?}, sign-out after \
         {sign_out_seen_after:?}), price on b after {propagation:?}, one expiry; 20 buyers, \
         b killed when {done_at_kill} had paid: {paid_orders} paid, {retried} steps pressed again; \
         {before_kill:?} before the crash, {:?} in all",
        run.elapsed()
    );
}

/// The instance checks a lesson's media request and hands it over (X-Accel-Redirect to the kit's
/// bucket location); nginx fetches it from the bucket by the presigned URL and sends it, ranges
/// and the shop's headers included.
async fn media_sent_by_nginx(cluster: &Cluster, learner: &Browser, media: &str) {
    use reqwest::cookie::CookieStore;
    let site = reqwest::Url::parse(&cluster.site).expect("site URL");
    let session = learner.jar.cookies(&site).expect("the learner's session cookie");
    let direct = format!("http://127.0.0.1:{}{media}", cluster.instances[0].port);
    let handed = reqwest::Client::new().get(&direct).header("cookie", session).send().await.expect("GET");
    assert_eq!(handed.status(), StatusCode::OK);
    let target = handed.headers().get("x-accel-redirect").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(target.starts_with("/_kedian_bucket/") && target.contains("X-Amz-Signature="), "handed over: {target:?}");
    assert!(handed.bytes().await.expect("body").is_empty(), "the instance sends no bytes itself");
    // Without the session the instance refuses before handing anything over.
    let stranger = reqwest::Client::new().get(&direct).send().await.expect("GET");
    assert_eq!(stranger.status(), StatusCode::FORBIDDEN);
    assert!(stranger.headers().get("x-accel-redirect").is_none());

    let whole = learner.get(media).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };
    assert_eq!(header(&whole, "content-type"), "video/mp4", "the type the shop chose, not the bucket's: {target}");
    assert_eq!(header(&whole, "cache-control"), "private, no-store");
    assert_eq!(header(&whole, "x-content-type-options"), "nosniff");
    for internal in ["x-accel-redirect", "x-kedian-viewer", "x-amz-request-id"] {
        assert!(whole.headers().get(internal).is_none(), "{internal} stays between the shop and nginx");
    }
    let body = whole.bytes().await.expect("video");
    assert!(body.len() > 100);
    let part = learner.client.get(learner.url(media)).header("range", "bytes=10-99").send().await.expect("GET");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&part, "content-range"), format!("bytes 10-99/{}", body.len()));
    assert_eq!(part.bytes().await.expect("range"), body.slice(10..100));

    // And in a real browser: the free preview plays from the bucket through nginx.
    let free: i64 = sqlx::query_scalar(
        "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id \
         WHERE c.slug = $1 AND l.free_preview = 1 AND l.kind = 'video' ORDER BY l.id LIMIT 1",
    )
    .bind(SLUG)
    .fetch_one(&cluster.db().await.0)
    .await
    .expect("a free video lesson");
    let Some((_driver, client)) =
        crate::browser::start_browser_with(1280, 900, None, &["--ignore-certificate-errors"]).await
    else {
        return;
    };
    client.goto(&format!("{}/courses/{SLUG}/lessons/{free}", cluster.site)).await.expect("lesson page");
    let played = crate::playback::play_until(&client, 1.0).await;
    assert!(played[0].as_f64().is_some_and(|t| t >= 1.0), "the preview plays through nginx: {played}");
    client.close().await.expect("close the browser");
}

/// 20 buyers pay through the site while instance b is killed. A step that fails (nginx answers
/// 502 for the requests b was holding) is pressed again, as a buyer would.
async fn pay_through_a_crash(mut cluster: Cluster, db: sqlx::PgPool, store: &kedian::store::Db) -> (i64, usize, usize) {
    let mut buyers = Vec::new();
    for n in 0..20 {
        let phone = format!("137000002{n:02}");
        make_buyer(store, &phone).await;
        let browser = cluster.browser(&format!("10.2.0.{}", n + 1));
        sign_in(&browser, &phone).await;
        buyers.push((phone, browser));
    }
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = buyers
        .into_iter()
        .map(|(phone, browser)| {
            let db = db.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut retried = 0;
                loop {
                    assert!(started.elapsed() < Duration::from_secs(60), "{phone} could not pay within a minute");
                    // A payment may have gone through while its answer was lost with b.
                    if paid_orders(&db, &phone).await > 0 {
                        // Signed in still: the session lives in Redis, not in the dead instance.
                        let orders = browser.get("/orders").await;
                        assert_eq!(orders.status(), StatusCode::OK, "{phone} is still signed in");
                        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        return retried;
                    }
                    match pay_once(&browser).await {
                        // The cashier said paid: that payment is in the database, whatever happens next.
                        Ok(order_no) => assert_eq!(status_of(&db, &order_no).await, "paid", "{phone}: {order_no}"),
                        Err(Step::Failed) => {
                            retried += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(Step::SignedOut) => panic!("{phone} lost the session"),
                    }
                }
            })
        })
        .collect();
    // The crash comes once the first buyers are through, while the others are paying.
    while done.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "no buyer got through\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let b = cluster.instances.pop().expect("instance b");
    let mut b_child = b.child;
    b_child.start_kill().expect("SIGKILL b");
    let _ = b_child.wait().await;
    let done_at_kill = done.load(std::sync::atomic::Ordering::SeqCst);
    assert!(done_at_kill < 20, "every buyer had paid before the crash; nothing was tested");
    let mut retried = 0;
    for task in tasks {
        retried += task.await.expect("buyer");
    }
    let paid: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id \
         WHERE u.phone LIKE '137000002%' AND o.status = 'paid'",
    )
    .fetch_one(&db)
    .await
    .expect("paid orders");
    // What is left serves /metrics through the site, to the local network only, with the token.
    let site = reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("client");
    let metrics = site.get(format!("{}/metrics", cluster.site)).bearer_auth(METRICS_TOKEN).send().await;
    let metrics = metrics.expect("metrics through nginx");
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.text().await.expect("metrics").contains("orders_paid_total"));
    let anonymous = site.get(format!("{}/metrics", cluster.site)).send().await.expect("metrics");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "no token, no metrics");
    (paid, retried, done_at_kill)
}

async fn paid_orders(db: &sqlx::PgPool, phone: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.phone = $1 AND o.status = 'paid'",
    )
    .bind(phone)
    .fetch_one(db)
    .await
    .expect("paid orders")
}

enum Step {
    Failed,
    SignedOut,
}

/// Buy, choose the sandbox, confirm at the cashier: the order number, or why it stopped.
async fn pay_once(browser: &Browser) -> Result<String, Step> {
    let check = |response: &reqwest::Response| {
        if location(response).starts_with("/login") {
            return Err(Step::SignedOut);
        }
        if response.status().is_redirection() { Ok(()) } else { Err(Step::Failed) }
    };
    let page = format!("/courses/{SLUG}");
    let (status, html) = browser.get_html(&page).await;
    if status != StatusCode::OK {
        return Err(Step::Failed);
    }
    if !html.contains("name=\"csrf_token\"") {
        return Err(Step::Failed);
    }
    let token = csrf_in(&html);
    let post = |action: String, fields: Vec<(&'static str, String)>| {
        let mut form = vec![("csrf_token", token.clone())];
        form.extend(fields);
        browser.client.post(browser.url(&action)).form(&form).send()
    };
    let bought = post(format!("{page}/buy"), vec![]).await.map_err(|_| Step::Failed)?;
    check(&bought)?;
    let order_no = location(&bought).trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    let chose =
        post(format!("/orders/{order_no}/pay"), vec![("channel", "sandbox".into())]).await.map_err(|_| Step::Failed)?;
    check(&chose)?;
    let confirmed =
        post(format!("/pay/sandbox/{order_no}"), vec![("action", "confirm".into())]).await.map_err(|_| Step::Failed)?;
    check(&confirmed)?;
    Ok(order_no)
}
