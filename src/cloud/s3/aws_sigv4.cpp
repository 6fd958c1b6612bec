#include "cloud/s3/aws_sigv4.hpp"

#include "statestore/error.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <ostream>
#include <stdexcept>

namespace statestore::aws {
namespace {

// ---- OpenSSL --------------------------------------------------------------------------

// Fetched once: an implicit fetch per call (EVP_sha256(), HMAC()) costs a provider lookup
// each time, and signing sits on the path of every S3 request. The objects live until exit on
// purpose; freeing them from a static destructor could race OpenSSL's own atexit cleanup.
const EVP_MD* sha256_md()
{
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (md == nullptr) {
        throw std::runtime_error("OpenSSL provides no SHA-256 implementation");
    }
    return md;
}

EVP_MAC* hmac_mac()
{
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) {
        throw std::runtime_error("OpenSSL provides no HMAC implementation");
    }
    return mac;
}

struct mac_ctx_deleter {
    void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};

digest hmac_raw(const unsigned char* key, std::size_t key_size, std::string_view data)
{
    std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> ctx{EVP_MAC_CTX_new(hmac_mac())};
    if (!ctx) {
        throw std::runtime_error("OpenSSL could not allocate an HMAC context");
    }
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    digest out{};
    std::size_t out_size = 0;
    // OpenSSL refuses a null key pointer even when the length is 0; an empty secret is
    // nonsense for AWS but must not crash, so point at a dummy byte.
    static const unsigned char no_key = 0;
    if (EVP_MAC_init(ctx.get(), key_size == 0 ? &no_key : key, key_size, params) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out.data(), &out_size, out.size()) != 1 ||
        out_size != out.size()) {
        throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    }
    return out;
}

// ---- Text helpers -----------------------------------------------------------------------

constexpr char hex_upper[] = "0123456789ABCDEF";
constexpr char hex_lower[] = "0123456789abcdef";

bool is_unreserved(unsigned char c) noexcept
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char ascii_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

// Header whitespace: SP and HTAB, plus CR and LF so that values folded over several lines
// (obs-fold) collapse like any other run, as the suite's multi-line case requires.
bool is_header_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Trims and collapses every inner whitespace run to one space. Quoted strings get no special
// treatment: SigV4 collapses inside quotes too (the suite's get-header-value-trim case).
std::string canonical_header_value(std::string_view value)
{
    std::string out;
    out.reserve(value.size());
    bool pending_space = false;
    for (const char c : value) {
        if (is_header_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out.push_back(' ');
            pending_space = false;
        }
        out.push_back(c);
    }
    return out;
}

// ---- Signer-owned names -------------------------------------------------------------------

constexpr std::string_view h_authorization = "Authorization";
constexpr std::string_view h_date = "X-Amz-Date";
constexpr std::string_view h_security_token = "X-Amz-Security-Token";
constexpr std::string_view h_content_sha256 = "X-Amz-Content-SHA256";

constexpr std::string_view q_algorithm = "X-Amz-Algorithm";
constexpr std::string_view q_credential = "X-Amz-Credential";
constexpr std::string_view q_date = "X-Amz-Date";
constexpr std::string_view q_expires = "X-Amz-Expires";
constexpr std::string_view q_signed_headers = "X-Amz-SignedHeaders";
constexpr std::string_view q_security_token = "X-Amz-Security-Token";
constexpr std::string_view q_signature = "X-Amz-Signature";

// A request that already carries a previous signature would be sent with two of them; that is
// a bug in the caller, so say which header it is rather than guess which copy wins.
void refuse_owned_headers(const request& req, bool content_hash_is_owned)
{
    for (const header& h : req.headers) {
        const bool owned = iequals(h.name, h_authorization) || iequals(h.name, h_date) ||
                           iequals(h.name, h_security_token) ||
                           (content_hash_is_owned && iequals(h.name, h_content_sha256));
        if (owned) {
            throw std::invalid_argument("the request to sign already has a " + lower(h.name) +
                                        " header; the signer adds it");
        }
    }
}

void refuse_owned_query(const request& req)
{
    // Parameter names are case-sensitive in SigV4: "x-amz-date" would be an ordinary one.
    for (const query_param& p : req.query) {
        const std::string_view n = p.name;
        if (n == q_algorithm || n == q_credential || n == q_date || n == q_expires ||
            n == q_signed_headers || n == q_security_token || n == q_signature) {
            throw std::invalid_argument("the request to presign already has the query "
                                        "parameter " +
                                        p.name + "; the signer adds it");
        }
    }
}

signing_mode resolve_mode(const signing_options& options)
{
    if (options.mode) {
        return *options.mode;
    }
    return options.service == "s3" ? signing_mode::s3 : signing_mode::generic;
}

bool adds_content_hash(const signing_options& options)
{
    switch (options.content_hash) {
    case content_hash_header::if_s3:
        return options.service == "s3";
    case content_hash_header::always:
        return true;
    case content_hash_header::never:
        return false;
    }
    return false;
}

// The steps shared by both forms, from canonical request to signature.
void finish(signing_result& result, const request& req, const credentials& creds,
            const signing_options& options, signing_mode mode, std::span<const query_param> query,
            const canonical_header_list& headers, std::string_view amz, std::string_view date,
            std::string_view scope)
{
    result.canonical_request = canonical_request(req.method, canonical_uri(req.path, mode),
                                                 canonical_query(query), headers, req.payload_hash);
    result.string_to_sign = string_to_sign(amz, scope, sha256_hex(result.canonical_request));
    signing_options::key_cache* cache = options.signing_key_cache;
    if (cache) {
        if (cache->date != date) {
            cache->key = signing_key(creds.secret_access_key, date, options.region, options.service);
            cache->date = std::string(date);
        }
        result.signature = signature(cache->key, result.string_to_sign);
        return;
    }
    result.signature =
        signature(signing_key(creds.secret_access_key, date, options.region, options.service),
                  result.string_to_sign);
}

} // namespace

std::ostream& operator<<(std::ostream& os, const secret&)
{
    return os << "***";
}

// ---- Stages ---------------------------------------------------------------------------------

std::string to_hex(std::span<const unsigned char> bytes)
{
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const unsigned char b : bytes) {
        out.push_back(hex_lower[b >> 4]);
        out.push_back(hex_lower[b & 0x0F]);
    }
    return out;
}

std::string sha256_hex(std::string_view bytes)
{
    digest out{};
    unsigned int out_size = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &out_size, sha256_md(), nullptr) != 1 ||
        out_size != out.size()) {
        throw std::runtime_error("OpenSSL SHA-256 failed");
    }
    return to_hex(out);
}

digest hmac_sha256(std::span<const unsigned char> key, std::string_view data)
{
    return hmac_raw(key.data(), key.size(), data);
}

digest hmac_sha256(std::string_view key, std::string_view data)
{
    return hmac_raw(reinterpret_cast<const unsigned char*>(key.data()), key.size(), data);
}

std::string uri_encode(std::string_view text, bool encode_slash)
{
    std::string out;
    out.reserve(text.size() + text.size() / 2);
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex_upper[c >> 4]);
            out.push_back(hex_upper[c & 0x0F]);
        }
    }
    return out;
}

std::string normalize_path(std::string_view path)
{
    std::vector<std::string_view> segments;
    std::string_view last; // the last non-empty segment
    for (std::size_t pos = 0; pos <= path.size();) {
        const std::size_t slash = std::min(path.find('/', pos), path.size());
        const std::string_view segment = path.substr(pos, slash - pos);
        pos = slash + 1;
        if (segment.empty()) {
            continue; // a duplicate, leading or trailing slash
        }
        last = segment;
        if (segment == "..") {
            if (!segments.empty()) {
                segments.pop_back();
            }
        } else if (segment != ".") {
            segments.push_back(segment);
        }
    }
    std::string out = "/";
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i != 0) {
            out.push_back('/');
        }
        out.append(segments[i]);
    }
    // "a/", "a/b/.." and "a/." all name a directory, so the result keeps a trailing slash
    // (RFC 3986 section 5.2.4 gives "/a/" for "/a/b/..").
    const bool directory = (!path.empty() && path.back() == '/') || last == "." || last == "..";
    if (directory && !segments.empty()) {
        out.push_back('/');
    }
    return out;
}

std::string canonical_uri(std::string_view path, signing_mode mode)
{
    if (path.empty()) {
        return "/";
    }
    switch (mode) {
    case signing_mode::s3:
        return std::string(path);
    case signing_mode::generic:
        return uri_encode(normalize_path(path), false);
    case signing_mode::generic_unnormalized:
        return uri_encode(path, false);
    }
    return std::string(path);
}

std::string canonical_query(std::span<const query_param> params)
{
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(params.size());
    for (const query_param& p : params) {
        encoded.emplace_back(uri_encode(p.name, true), uri_encode(p.value, true));
    }
    // Sorting the encoded text, not the decoded one, is what AWS does; the two orders differ
    // once a name mixes '~' with non-ASCII bytes.
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) {
            out.push_back('&');
        }
        out.append(name).append("=").append(value);
    }
    return out;
}

canonical_header_list canonical_headers(std::span<const header> headers)
{
    std::vector<std::pair<std::string, std::string>> entries;
    entries.reserve(headers.size());
    for (const header& h : headers) {
        entries.emplace_back(lower(h.name), canonical_header_value(h.value));
    }
    // Stable, so that repeated names keep the order in which they were given.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });

    canonical_header_list out;
    for (std::size_t i = 0; i < entries.size();) {
        const std::string& name = entries[i].first;
        out.canonical.append(name).append(":").append(entries[i].second);
        std::size_t j = i + 1;
        for (; j < entries.size() && entries[j].first == name; ++j) {
            out.canonical.append(",").append(entries[j].second);
        }
        out.canonical.push_back('\n');
        if (!out.signed_names.empty()) {
            out.signed_names.push_back(';');
        }
        out.signed_names.append(name);
        i = j;
    }
    return out;
}

std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              std::string_view canonical_query,
                              const canonical_header_list& headers, std::string_view payload_hash)
{
    std::string out;
    out.reserve(method.size() + canonical_uri.size() + canonical_query.size() +
                headers.canonical.size() + headers.signed_names.size() + payload_hash.size() + 5);
    // headers.canonical ends with its own '\n', hence the blank line before the names.
    out.append(method).append("\n");
    out.append(canonical_uri).append("\n");
    out.append(canonical_query).append("\n");
    out.append(headers.canonical).append("\n");
    out.append(headers.signed_names).append("\n");
    out.append(payload_hash);
    return out;
}

std::string amz_date(std::chrono::system_clock::time_point time)
{
    using namespace std::chrono;
    const auto secs = floor<seconds>(time);
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss hms{secs - day};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::string date_stamp(std::chrono::system_clock::time_point time)
{
    return amz_date(time).substr(0, 8);
}

std::string credential_scope(std::string_view date, std::string_view region,
                             std::string_view service)
{
    std::string out;
    out.append(date).append("/").append(region).append("/").append(service);
    out.append("/aws4_request");
    return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request_hash)
{
    std::string out(algorithm);
    out.append("\n").append(amz_date);
    out.append("\n").append(scope);
    out.append("\n").append(canonical_request_hash);
    return out;
}

digest signing_key(const secret& secret_access_key, std::string_view date, std::string_view region,
                   std::string_view service)
{
    std::string seed = "AWS4" + secret_access_key.reveal();
    digest key{};
    try {
        key = hmac_sha256(std::string_view(seed), date);
    } catch (...) {
        OPENSSL_cleanse(seed.data(), seed.size());
        throw;
    }
    // The copy of the secret should not linger in freed heap memory.
    OPENSSL_cleanse(seed.data(), seed.size());
    key = hmac_sha256(key, region);
    key = hmac_sha256(key, service);
    return hmac_sha256(key, "aws4_request");
}

std::string signature(const digest& signing_key, std::string_view string_to_sign)
{
    return to_hex(hmac_sha256(signing_key, string_to_sign));
}

std::string authorization_header(std::string_view access_key_id, std::string_view scope,
                                 std::string_view signed_headers, std::string_view signature)
{
    std::string out(algorithm);
    out.append(" Credential=").append(access_key_id).append("/").append(scope);
    out.append(", SignedHeaders=").append(signed_headers);
    out.append(", Signature=").append(signature);
    return out;
}

// ---- Whole signatures -----------------------------------------------------------------------

signing_result sign_headers(const request& req, const credentials& creds,
                            const signing_options& options)
{
    const signing_mode mode = resolve_mode(options);
    const bool add_content_hash = adds_content_hash(options);
    refuse_owned_headers(req, add_content_hash);

    const std::string amz = amz_date(options.time);
    const std::string date = amz.substr(0, 8);
    const std::string scope = credential_scope(date, options.region, options.service);
    const bool has_token = !creds.session_token.empty();

    std::vector<header> to_sign = req.headers;
    to_sign.push_back({std::string(h_date), amz});
    if (has_token && options.sign_session_token) {
        to_sign.push_back({std::string(h_security_token), creds.session_token.reveal()});
    }
    if (add_content_hash) {
        to_sign.push_back({std::string(h_content_sha256), req.payload_hash});
    }
    const canonical_header_list headers = canonical_headers(to_sign);

    signing_result result;
    finish(result, req, creds, options, mode, req.query, headers, amz, date, scope);

    result.headers.push_back({std::string(h_date), amz});
    if (has_token) {
        result.headers.push_back({std::string(h_security_token), creds.session_token.reveal()});
    }
    if (add_content_hash) {
        result.headers.push_back({std::string(h_content_sha256), req.payload_hash});
    }
    result.headers.push_back(
        {std::string(h_authorization),
         authorization_header(creds.access_key_id, scope, headers.signed_names, result.signature)});
    return result;
}

signing_result sign_headers(const request& req, const credentials& creds, std::string_view region,
                            std::string_view service, std::chrono::system_clock::time_point time,
                            std::optional<signing_mode> mode)
{
    signing_options options;
    options.region = region;
    options.service = service;
    options.time = time;
    options.mode = mode;
    return sign_headers(req, creds, options);
}

signing_result presign(const request& req, const credentials& creds, const signing_options& options)
{
    constexpr std::chrono::seconds max_expires{7 * 24 * 3600};
    if (options.expires < std::chrono::seconds{1} || options.expires > max_expires) {
        throw_error(errc::invalid_setting,
                    "a presigned request must expire within 1 second to 7 days, not " +
                        std::to_string(options.expires.count()) + " seconds");
    }
    const signing_mode mode = resolve_mode(options);
    // The payload hash travels in no header here, so a caller's X-Amz-Content-SHA256 is an
    // ordinary signed header.
    refuse_owned_headers(req, false);
    refuse_owned_query(req);

    const std::string amz = amz_date(options.time);
    const std::string date = amz.substr(0, 8);
    const std::string scope = credential_scope(date, options.region, options.service);
    const bool has_token = !creds.session_token.empty();
    const canonical_header_list headers = canonical_headers(req.headers);

    signing_result result;
    result.query = {
        {std::string(q_algorithm), std::string(algorithm)},
        {std::string(q_credential), creds.access_key_id + "/" + scope},
        {std::string(q_date), amz},
        {std::string(q_expires), std::to_string(options.expires.count())},
        {std::string(q_signed_headers), headers.signed_names},
    };
    if (has_token && options.sign_session_token) {
        result.query.push_back({std::string(q_security_token), creds.session_token.reveal()});
    }
    std::vector<query_param> query = req.query;
    query.insert(query.end(), result.query.begin(), result.query.end());

    finish(result, req, creds, options, mode, query, headers, amz, date, scope);

    if (has_token && !options.sign_session_token) {
        result.query.push_back({std::string(q_security_token), creds.session_token.reveal()});
    }
    result.query.push_back({std::string(q_signature), result.signature});
    return result;
}

bool is_sensitive_header(std::string_view name) noexcept
{
    return iequals(name, h_authorization) || iequals(name, h_security_token) ||
           iequals(name, "x-amz-server-side-encryption-customer-key") ||
           iequals(name, "x-amz-copy-source-server-side-encryption-customer-key");
}

bool is_sensitive_query_param(std::string_view name) noexcept
{
    return name == q_signature || name == q_security_token;
}

} // namespace statestore::aws
