//! A real browser for the journeys: Debian's chromium, headless, driven through chromedriver
//! (WebDriver) with fantoccini. Every journey gets its own chromedriver and browser profile,
//! a phone-sized viewport, a language, JavaScript on or off, and a folder of screenshots.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// What a journey runs with.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub journey: &'static str,
    pub javascript: bool,
    /// `vi` or `en`: the browser's preferred language (`Accept-Language`).
    pub lang: &'static str,
    pub width: u32,
    pub height: u32,
}

impl Setup {
    /// A mid-range Android phone (Lighthouse's "Moto G Power" class of screen).
    pub fn phone(journey: &'static str, javascript: bool, lang: &'static str) -> Self {
        Self {
            journey,
            javascript,
            lang,
            width: 412,
            height: 915,
        }
    }

    /// A small, cheap phone.
    pub fn small_phone(journey: &'static str, javascript: bool, lang: &'static str) -> Self {
        Self {
            width: 360,
            height: 640,
            ..Self::phone(journey, javascript, lang)
        }
    }

    fn name(&self) -> String {
        format!(
            "{}-{}-{}",
            self.journey,
            if self.javascript { "js" } else { "nojs" },
            self.lang
        )
    }
}

/// Paths of the browser and its driver, or why they are missing.
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn tools() -> Result<Tools, String> {
    let chromium = find_program("CHROME_PATH", &["chromium", "chromium-browser"]);
    let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Ok(Tools {
            chromium,
            chromedriver,
        }),
        (chromium, chromedriver) => Err(format!(
            "chromium {} and chromedriver {} (install Debian's `chromium chromium-driver`, or \
             set CHROME_PATH and CHROMEDRIVER)",
            if chromium.is_some() {
                "found"
            } else {
                "MISSING"
            },
            if chromedriver.is_some() {
                "found"
            } else {
                "MISSING"
            },
        )),
    }
}

/// Chromium is heavy for the 2-core machines this runs on: a few browsers at once, the rest
/// wait their turn instead of timing out side by side.
static SLOTS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let slots = std::env::var("BROWSER_TEST_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    tokio::sync::Semaphore::new(slots)
});

/// A chromedriver process that dies with the test, and the browser profile it used (removed
/// once the browser is gone).
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
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

async fn start_driver(tools: &Tools, log: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(&tools.chromedriver)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", tools.chromedriver.display()));
    let driver = Driver {
        child,
        port,
        profile: tempfile::tempdir().expect("browser profile folder"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

/// Where screenshots go: `<target dir>/browser-screenshots/<journey>-<js|nojs>-<lang>/`.
fn screenshot_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("browser-screenshots");
    }
    // The test binary lives in <target>/<profile>/deps/.
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("browser-screenshots")
}

/// One browser session of one journey.
pub struct Browser {
    pub client: Client,
    pub setup: Setup,
    base: String,
    shots: PathBuf,
    step: u32,
    _permit: tokio::sync::SemaphorePermit<'static>,
    driver: Arc<Driver>,
}

/// Opens a browser for `setup`, or `None` when chromium or chromedriver is missing (a loud
/// skip; with `CI=true` a failure instead).
pub async fn open(base: &str, setup: Setup) -> Option<Browser> {
    let tools = match tools() {
        Ok(tools) => tools,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("browser tests cannot run: {why}; CI=true, so this is a failure");
            }
            loud(&format!(
                "\n!!!!!!!!!! BROWSER TEST `{}` SKIPPED: {why} !!!!!!!!!!\n",
                setup.name()
            ));
            return None;
        }
    };
    let permit = SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let shots = screenshot_root().join(setup.name());
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let driver = start_driver(&tools, &shots.join("chromedriver.log")).await;
    let args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--no-first-run".to_owned(),
        format!("--lang={}", setup.lang),
        format!("--user-data-dir={}", driver.profile.path().display()),
        format!("--window-size={},{}", setup.width, setup.height),
    ];
    let mut prefs = json!({ "intl.accept_languages": setup.lang });
    if !setup.javascript {
        // The content setting a managed policy would set: scripts never run on any site.
        prefs["profile.managed_default_content_settings.javascript"] = json!(2);
    }
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": tools.chromium.display().to_string(),
            "args": args,
            "prefs": prefs,
            // A phone's screen and viewport rules, but mouse clicks: with touch emulation
            // chromedriver waits on a page timer after each tap, which never fires when
            // JavaScript is off.
            "mobileEmulation": {
                "deviceMetrics": {
                    "width": setup.width,
                    "height": setup.height,
                    "pixelRatio": 1.0,
                    "mobile": true,
                    "touch": false
                }
            }
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal")
    };
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("no browser session: {e}"));
    loud(&format!(
        "browser journey {}: screenshots in {}",
        setup.name(),
        shots.display()
    ));
    Some(Browser {
        client,
        setup,
        base: base.to_owned(),
        shots,
        step: 0,
        _permit: permit,
        driver: Arc::new(driver),
    })
}

impl Browser {
    /// Runs a journey and closes the browser whatever happens, then re-raises a failure (with
    /// a screenshot of where it stopped, `failure.png`).
    pub async fn run<F, Fut>(self, journey: F)
    where
        F: FnOnce(Browser) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        // The journey owns the browser; these clones outlive a panic to close the session
        // (and with it chromium) before chromedriver is stopped.
        let client = self.client.clone();
        let driver = self.driver.clone();
        let shots = self.shots.clone();
        let outcome = tokio::spawn(journey(self)).await;
        if outcome.is_err()
            && let Ok(png) = client.screenshot().await
        {
            let _ = std::fs::write(shots.join("failure.png"), png);
        }
        let _ = client.close().await;
        drop(driver);
        match outcome {
            Ok(()) => {}
            Err(err) => match err.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(err) => panic!("the journey was cancelled: {err}"),
            },
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The path and query of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Saves a full-page screenshot as `NN-name.png`, and checks that the page fits the
    /// phone's width (every step of every journey).
    pub async fn shot(&mut self, name: &str) {
        self.step += 1;
        let png = self.full_page_png().await;
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.assert_fits_the_screen().await;
    }

    /// A DevTools protocol command through chromedriver (it works whether or not the page may
    /// run scripts).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Option<Value> {
        let session = self.client.session_id().await.ok()??;
        let url = format!(
            "http://127.0.0.1:{}/session/{session}/goog/cdp/execute",
            self.driver.port
        );
        let answer: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(answer["value"].clone())
    }

    /// The whole page, not only the viewport (up to 8,000 CSS pixels tall); falls back to
    /// WebDriver's viewport screenshot.
    async fn full_page_png(&self) -> Vec<u8> {
        if let Some(metrics) = self.cdp("Page.getLayoutMetrics", json!({})).await {
            let size = &metrics["cssContentSize"];
            if let (Some(w), Some(h)) = (size["width"].as_f64(), size["height"].as_f64()) {
                let params = json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": w, "height": h.min(8000.0), "scale": 1}
                });
                let shot = self.cdp("Page.captureScreenshot", params).await;
                let png = shot
                    .as_ref()
                    .and_then(|s| s["data"].as_str())
                    .and_then(|d| data_encoding::BASE64.decode(d.as_bytes()).ok());
                if let Some(png) = png {
                    return png;
                }
            }
        }
        self.client.screenshot().await.expect("screenshot")
    }

    /// Asserts the page is no wider than the screen: nothing to scroll sideways on a phone.
    pub async fn assert_fits_the_screen(&self) {
        let metrics = self
            .cdp("Page.getLayoutMetrics", json!({}))
            .await
            .expect("layout metrics");
        let content = metrics["cssContentSize"]["width"].as_f64().unwrap_or(0.0);
        let viewport = metrics["cssLayoutViewport"]["clientWidth"]
            .as_f64()
            .unwrap_or(0.0);
        assert!(
            content <= viewport + 1.0,
            "the page {} is {content} px wide on a {viewport} px screen in {}",
            self.path().await,
            self.current()
        );
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` on {}: {e}", self.current()))
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find `{css}`: {e}"))
    }

    /// The link in the page's main part whose visible text contains `text`.
    pub async fn link(&self, text: &str) -> Element {
        self.link_in("main", text).await
    }

    /// The link inside the elements matched by the XPath step `scope` (`main`, `aside`,
    /// `nav`…) whose visible text contains `text`.
    pub async fn link_in(&self, scope: &str, text: &str) -> Element {
        let xpath = format!(
            "//{scope}//a[contains(normalize-space(.), {})]",
            xpath_literal(text)
        );
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no link `{text}` in {scope} on {}: {e}", self.current()))
    }

    /// The button whose visible text contains `text`.
    pub async fn button(&self, text: &str) -> Element {
        let xpath = format!(
            "//button[contains(normalize-space(.), {})]",
            xpath_literal(text)
        );
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button `{text}` on {}: {e}", self.current()))
    }

    /// Clicks an element and waits for the page it leads to.
    pub async fn click(&self, element: Element) {
        element.click().await.expect("click");
        self.settle().await;
    }

    pub async fn click_link(&self, text: &str) {
        let link = self.link(text).await;
        self.click(link).await;
    }

    pub async fn click_button(&self, text: &str) {
        let button = self.button(text).await;
        self.click(button).await;
    }

    /// Types into the field with id `id`, replacing what it held.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.find(&format!("#{id}")).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    pub async fn select(&self, id: &str, value: &str) {
        self.find(&format!("#{id}"))
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in #{id}: {e}"));
    }

    /// Waits until the document has loaded (a click may start a navigation a moment later).
    pub async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("body"))
            .await;
    }

    /// The visible text of the page. A page that reloads itself (the payment page) can replace
    /// the body between finding it and reading it: then read the new one.
    pub async fn text(&self) -> String {
        let mut tries = 0;
        loop {
            match self.find("body").await.text().await {
                Ok(text) => return text,
                Err(err) => {
                    tries += 1;
                    assert!(tries < 20, "text of the page: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Asserts the page shows `expected` (waiting a little for it).
    pub async fn sees(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.text().await;
            if text.contains(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected to see `{expected}` on {}, the page says:\n{text}",
                self.current()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn does_not_see(&self, unexpected: &str) {
        let text = self.text().await;
        assert!(
            !text.contains(unexpected),
            "`{unexpected}` should not be on {}:\n{text}",
            self.current()
        );
    }

    /// The `lang` attribute of the page.
    pub async fn page_lang(&self) -> String {
        self.find("html")
            .await
            .attr("lang")
            .await
            .expect("lang attribute")
            .unwrap_or_default()
    }

    /// Asserts the browser really runs (or really does not run) the page's scripts: `app.js`
    /// marks `<html>` with the class `js` as the first thing it does. Call it on a page that
    /// loads `app.js`, once loaded (deferred scripts run before the load event WebDriver waits
    /// for).
    pub async fn assert_javascript_state(&self) {
        if self.setup.javascript {
            self.find("html.js").await;
        } else {
            assert!(
                self.find_all("html.js").await.is_empty(),
                "JavaScript should be off, but app.js ran in {}",
                self.current()
            );
        }
    }

    /// The browser's cookies as one `Cookie` header, to fetch a download as this visitor.
    pub async fn cookie_header(&self) -> String {
        self.client
            .get_all_cookies()
            .await
            .expect("cookies")
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn current(&self) -> String {
        format!("the {} journey", self.setup.name())
    }
}

/// Writes to the test process's stderr directly: the test harness captures `eprintln!` of
/// passing tests, and a skipped journey or the screenshot folder must be seen.
pub fn loud(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// An XPath string literal for any text (XPath 1.0 has no escapes).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
