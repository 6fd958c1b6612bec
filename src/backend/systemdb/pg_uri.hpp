#pragma once
// MELTANO_DATABASE_URI for PostgreSQL, read the way Meltano reads it (SQLAlchemy's URL parser
// and its psycopg/psycopg2 dialects), turned into libpq connection keywords. Pure: no libpq.
//
//   postgresql[+psycopg|+psycopg2]://[user[:password]@][host][:port][/dbname][?key=value&...]
//   postgres://...  (libpq's and Heroku's spelling)
//
// As in SQLAlchemy: user and password are percent-decoded, host and dbname are taken
// verbatim, the query is form-decoded ('+' is a space, %XX decoded, empty values dropped) and
// every query key is a libpq keyword passed on as is (sslmode, sslrootcert, connect_timeout,
// options=-csearch_path=..., application_name, ...); a query key overrides the same part of
// the authority; `?host=h1:p1&host=h2:p2` lists several hosts. Only what the URI says is
// passed: PGPASSWORD, ~/.pgpass, PGSSLMODE, PGHOST, service files and the other libpq
// defaults apply exactly as libpq applies them.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace statestore::pg {

/// Whether the URI names PostgreSQL: scheme postgresql, postgresql+psycopg,
/// postgresql+psycopg2 or postgres (case-insensitive).
bool is_postgres_uri(std::string_view uri);

/// What a PostgreSQL URI says, as libpq keywords.
struct connection_target {
    /// libpq keyword/value pairs for PQconnectStartParams, in a fixed order (user,
    /// password, host, port, dbname, then the query's keys in URI order), plus
    /// client_encoding=UTF8 (statestore's text is UTF-8) and
    /// fallback_application_name=statestore (PGAPPNAME or the URI's application_name win).
    std::vector<std::pair<std::string, std::string>> keywords;
    /// The URI for messages and describe(): the password and any `password` or
    /// `sslpassword` query value are left out, nothing else is changed.
    std::string display;
    /// Secret values the URI holds (passwords), to scrub from any text shown.
    std::vector<std::string> secrets;
    /// Hosts the URI lists (1 when it names none: libpq's default applies).
    std::size_t host_count = 1;
};

/// Takes a PostgreSQL URI apart. Throws statestore::error: invalid_uri for a malformed URI
/// (a bad port, an unterminated [ipv6], a key given twice, mixed host lists, a
/// client_encoding other than UTF8), unsupported_backend for another driver
/// (postgresql+asyncpg). Messages show display-style text, never a password.
connection_target parse_postgres_uri(std::string_view uri);

/// The host name libpq would resolve itself, blocking, with getaddrinfo: the one `host` the
/// keywords give when it is a DNS name (not an address, not a socket directory, not a list)
/// and no `hostaddr` is given. "" when there is nothing to resolve.
std::string host_to_resolve(const std::vector<std::pair<std::string, std::string>>& keywords);

/// The keywords with `host` repeated once per address and `hostaddr` listing the addresses
/// (and a given `port` repeated alike): libpq then connects to exactly those, in that order,
/// without resolving anything, and still uses the name for TLS host-name verification and
/// the password file.
std::vector<std::pair<std::string, std::string>>
with_addresses(std::vector<std::pair<std::string, std::string>> keywords,
               const std::vector<std::string>& addresses);

/// `text` with every occurrence of each secret (of 4 bytes or more: shorter ones would
/// garble messages and protect nothing) replaced by "***".
std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets);

} // namespace statestore::pg
