/* ua_class.c - context.ua from a uap-core result: versions joined, the device class
 * and the bot flag of browser.md (uap-core's Spider device, monitors, HTTP libraries). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "enrich/en_int.h"

/* uap-core families of HTTP client libraries and command-line fetchers (their regexes
 * name them so; compared without case). */
static const char *const lib_families[] = {"curl",
                                           "Wget",
                                           "wget2",
                                           "Python Requests",
                                           "Python-urllib",
                                           "Python aiohttp",
                                           "PycURL",
                                           "Go-http-client",
                                           "Apache-HttpClient",
                                           "Google-HTTP-Java-Client",
                                           "okhttp",
                                           "axios",
                                           "libwww-perl",
                                           "aria2",
                                           "Axel",
                                           "lftp",
                                           "PostmanRuntime",
                                           "insomnia",
                                           "HTTPClient",
                                           "Java",
                                           "JNLP",
                                           "reqwest",
                                           "aihttp",
                                           "unirest-java",
                                           "unirest-python",
                                           "unirest-ruby",
                                           "unirest-nodejs",
                                           "unirest-php",
                                           "unirest-net",
                                           "akka-http",
                                           "got",
                                           "Jersey",
                                           "Vert.x-WebClient",
                                           "Apache-CXF",
                                           "go-resty",
                                           "AHC",
                                           "ReactorNetty",
                                           "scalaj-http",
                                           "WinHTTP",
                                           "urlgrabber",
                                           "libcurl-agent",
                                           "fetch libfetch",
                                           "Boto",
                                           "Boto3",
                                           "aws-cli",
                                           "HttpMonitor",
                                           "PingdomBot",
                                           "Rackspace Monitoring",
                                           "PRTG Network Monitor",
                                           NULL};

/* User agents that start with one of these are libraries even when uap-core's rule set
 * has no rule for them (compared without case). */
static const char *const lib_prefixes[] = {"curl/",
                                           "wget/",
                                           "python-requests/",
                                           "python-urllib/",
                                           "python-httpx/",
                                           "aiohttp/",
                                           "go-http-client/",
                                           "okhttp/",
                                           "axios/",
                                           "node-fetch",
                                           "undici",
                                           "node/",
                                           "java/",
                                           "apache-httpclient/",
                                           "libwww-perl/",
                                           "httpie/",
                                           "postmanruntime/",
                                           "guzzlehttp/",
                                           "ruby",
                                           "faraday",
                                           "dart/",
                                           "deno/",
                                           "bun/",
                                           "rust-reqwest",
                                           "reqwest/",
                                           "php/",
                                           "lwp::",
                                           "http.rb/",
                                           "restsharp/",
                                           "powershell/",
                                           "wordpress/",
                                           NULL};

/* Uptime monitors and health checkers, anywhere in the string (without case). */
static const char *const monitor_marks[] = {"pingdom",
                                            "statuscake",
                                            "uptimerobot",
                                            "uptime-kuma",
                                            "betteruptime",
                                            "better uptime",
                                            "site24x7",
                                            "newrelicpinger",
                                            "datadog",
                                            "checkly",
                                            "stackdrivermonitoring",
                                            "googlestackdriver",
                                            "zabbix",
                                            "nagios",
                                            "check_http",
                                            "blackbox-exporter",
                                            "blackbox_exporter",
                                            "prometheus",
                                            "kube-probe",
                                            "elb-healthchecker",
                                            "googlehc",
                                            "monitis",
                                            "freshping",
                                            "hetrixtools",
                                            "updown.io",
                                            "uptimebot",
                                            "catchpoint",
                                            "gomezagent",
                                            "dynatrace",
                                            "synthetic",
                                            "healthcheck",
                                            "health-check",
                                            NULL};

/* Operating systems whose browsers are desktops (browser.md: Windows, macOS, Linux,
 * ChromeOS); uap-core names Linux distributions by their own names. */
static const char *const desktop_os[] = {
    "Windows", "Mac OS X",   "Mac OS",    "macOS",     "Linux",   "Ubuntu",   "Kubuntu",
    "Xubuntu", "Lubuntu",    "Debian",    "Fedora",    "Red Hat", "CentOS",   "Linux Mint",
    "Mint",    "Arch Linux", "Gentoo",    "Slackware", "SUSE",    "openSUSE", "Mandriva",
    "Mageia",  "PCLinuxOS",  "Chrome OS", NULL};

static const char *const mobile_os[] = {"iOS",
                                        "Android",
                                        "Windows Phone",
                                        "Windows Mobile",
                                        "Windows CE",
                                        "BlackBerry OS",
                                        "BlackBerry Tablet OS",
                                        "Symbian OS",
                                        "Symbian^3",
                                        "SymbianOS",
                                        "KaiOS",
                                        "Firefox OS",
                                        "Sailfish",
                                        "Bada",
                                        "MeeGo",
                                        "Maemo",
                                        "HarmonyOS",
                                        "ATV OS X",
                                        NULL};

/* Televisions, set-top boxes and consoles are "other" whatever their OS says. */
static const char *const tv_marks[] = {
    "SMART-TV", "SmartTV", "Smart TV",    "SMARTTV",  "GoogleTV", "AppleTV", "Apple TV",
    "CrKey",    "BRAVIA",  "Web0S",       "WebOS TV", "HbbTV",    "Roku",    "AFTB",
    "AFTS",     "AFTM",    "PlayStation", "Xbox",     "Nintendo", NULL};

static bool in_list_nocase(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcasecmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* s[0, len) with ASCII letters lowercased, for the searches without case. */
struct lower {
    char s[EN_UA_MATCH_MAX];
    size_t len;
};

static void lower_init(struct lower *l, const char *s, size_t len)
{
    l->len = len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        l->s[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
}

/* needle (lowercase) anywhere in l. */
static bool contains_nocase(const struct lower *l, const char *needle)
{
    return memmem(l->s, l->len, needle, strlen(needle)) != NULL;
}

static bool contains(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle)) != NULL;
}

static bool has_prefix_nocase(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && strncasecmp(s, prefix, n) == 0;
}

static bool is_bot(const struct en_uap *u, const char *ua, size_t len, const struct lower *lc)
{
    if (strcmp(u->dev_family, "Spider") == 0 || in_list_nocase(u->ua_family, lib_families)) {
        return true;
    }
    for (size_t i = 0; lib_prefixes[i]; i++) {
        if (has_prefix_nocase(ua, len, lib_prefixes[i])) {
            return true;
        }
    }
    for (size_t i = 0; monitor_marks[i]; i++) {
        if (contains_nocase(lc, monitor_marks[i])) {
            return true;
        }
    }
    return false;
}

static bool is_desktop_os(const char *os)
{
    /* "Windows" plus its versions, but not the phone and embedded ones (mobile_os). */
    if (strncmp(os, "Windows", 7) == 0) {
        return !in_list(os, mobile_os) && strcmp(os, "Windows RT") != 0;
    }
    return in_list(os, desktop_os);
}

static enum en_device device_class(const struct en_uap *u, const char *ua, size_t len,
                                   const struct lower *lc)
{
    bool android = strcmp(u->os_family, "Android") == 0;
    for (size_t i = 0; tv_marks[i]; i++) {
        if (contains(ua, len, tv_marks[i])) {
            return EN_DEV_OTHER;
        }
    }
    if (contains(ua, len, "iPad") || contains_nocase(lc, "tablet") || contains(ua, len, "Kindle") ||
        contains(ua, len, "Silk/") || contains(ua, len, "PlayBook") ||
        strcmp(u->os_family, "BlackBerry Tablet OS") == 0) {
        return EN_DEV_TABLET;
    }
    /* Google's rule for Android browsers: phones say "Mobile", tablets do not. TVs and
     * cars say neither and are left to the next checks. */
    if (android && !contains(ua, len, "Mobi") && !contains(ua, len, "TV") &&
        strcmp(u->ua_family, "Other") != 0 && contains(ua, len, "Android")) {
        return EN_DEV_TABLET;
    }
    if (contains(ua, len, "Mobi") || contains(ua, len, "iPhone") || contains(ua, len, "iPod") ||
        in_list(u->os_family, mobile_os) || strcmp(u->dev_family, "Generic Smartphone") == 0 ||
        strcmp(u->dev_family, "Generic Feature Phone") == 0) {
        return EN_DEV_MOBILE;
    }
    if (is_desktop_os(u->os_family) && strcmp(u->ua_family, "Other") != 0) {
        return EN_DEV_DESKTOP;
    }
    return EN_DEV_OTHER;
}

/* "a[.b[.c[.d]]]" with the parts that are set; stops at the first unset one. */
static void join_version(char *out, size_t cap, const char *const parts[], int n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && parts[i][0]; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? "." : "", parts[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            /* Cut: keep what fits whole. */
            out[len] = '\0';
            return;
        }
        len += (size_t)w;
    }
}

void en_ua_classify(const struct en_uap *u, const char *ua, size_t len, struct en_ua *out)
{
    const char *bv[3] = {u->ua_major, u->ua_minor, u->ua_patch};
    const char *ov[4] = {u->os_major, u->os_minor, u->os_patch, u->os_patch_minor};
    struct lower lc;
    if (len > EN_UA_MATCH_MAX) {
        len = EN_UA_MATCH_MAX;
    }
    memset(out, 0, sizeof *out);
    en__copy_cut(out->browser, sizeof out->browser, u->ua_family, strlen(u->ua_family));
    en__copy_cut(out->os, sizeof out->os, u->os_family, strlen(u->os_family));
    join_version(out->browser_version, sizeof out->browser_version, bv, 3);
    join_version(out->os_version, sizeof out->os_version, ov, 4);
    lower_init(&lc, ua, len);
    out->bot = is_bot(u, ua, len, &lc);
    out->device = out->bot ? EN_DEV_BOT : device_class(u, ua, len, &lc);
}

const char *en_device_name(enum en_device d)
{
    switch (d) {
    case EN_DEV_DESKTOP: return "desktop";
    case EN_DEV_MOBILE: return "mobile";
    case EN_DEV_TABLET: return "tablet";
    case EN_DEV_BOT: return "bot";
    case EN_DEV_OTHER: break;
    }
    return "other";
}
