#include "store/file/file_store.hpp"

#include "statestore/error.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace asio = boost::asio;

namespace statestore {
namespace {

// Leaf names of our in-flight temp files start with this. They are hidden from list() and
// never collide with a key's leaf (keys are compared in full, the marker is a prefix).
constexpr std::string_view temp_marker = ".statestore-tmp.";
// Long leaves are shortened inside temp names so that the temp name stays under NAME_MAX.
constexpr std::size_t temp_leaf_max = 100;
constexpr std::size_t page_size = 1000;
// A concurrent remove() may rmdir the directory a write is about to use (or an outside
// `rm -rf` may delete it); the write then starts over. Each round makes progress unless
// something deletes the directory again, so this bound is only a guard against livelock.
constexpr int max_attempts = 100;

// ---------------------------------------------------------------------------------------
// Small helpers: messages, file descriptors

std::string describe_errno(int err)
{
    char buffer[256];
    // GNU strerror_r (g++ defines _GNU_SOURCE): returns a pointer, maybe not to `buffer`.
    return ::strerror_r(err, buffer, sizeof buffer);
}

[[noreturn]] void throw_io(std::string_view op, const std::string& path, int err)
{
    std::string message(op);
    message += ' ';
    message += path;
    message += ": ";
    message += describe_errno(err);
    throw_error(errc::io_error, message);
}

/// The key made safe for a message: control bytes as \xNN, the rest verbatim.
std::string printable(std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

class unique_fd {
public:
    explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept
    {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset() noexcept
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
    /// Closes now and reports the error close() may carry (deferred write errors on some
    /// file systems), which the destructor would have to swallow.
    int close() noexcept
    {
        const int rc = ::close(std::exchange(fd_, -1));
        return rc == 0 ? 0 : errno;
    }

private:
    int fd_;
};

/// A directory stream owning its descriptor.
class dir_stream {
public:
    /// Takes `fd` over; an empty stream (false) if `fd` is empty or fdopendir() fails.
    explicit dir_stream(unique_fd fd) : dir_(fd ? ::fdopendir(fd.get()) : nullptr)
    {
        if (dir_ != nullptr)
            static_cast<void>(fd.release()); // closedir() closes it now
    }
    dir_stream(dir_stream&& other) noexcept : dir_(std::exchange(other.dir_, nullptr)) {}
    dir_stream(const dir_stream&) = delete;
    dir_stream& operator=(const dir_stream&) = delete;
    dir_stream& operator=(dir_stream&&) = delete;
    ~dir_stream()
    {
        if (dir_ != nullptr)
            ::closedir(dir_);
    }
    explicit operator bool() const noexcept { return dir_ != nullptr; }
    DIR* get() const noexcept { return dir_; }
    int fd() const noexcept { return ::dirfd(dir_); }

private:
    DIR* dir_;
};

// ---------------------------------------------------------------------------------------
// Versions

std::uint64_t fnv1a64(std::string_view bytes) noexcept
{
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : bytes) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

/// "<inode>.<mtime ns>." - the part of a version that stat() alone can tell.
std::string identity_prefix(const struct stat& st)
{
    const auto mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL
                          + static_cast<long long>(st.st_mtim.tv_nsec);
    return std::to_string(static_cast<unsigned long long>(st.st_ino)) + '.'
           + std::to_string(mtime_ns) + '.';
}

std::string make_version(const struct stat& st, std::string_view bytes)
{
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx",
                  static_cast<unsigned long long>(fnv1a64(bytes)));
    return identity_prefix(st) + hash;
}

// ---------------------------------------------------------------------------------------
// Keys and paths

struct key_path {
    std::string full;   ///< root/key
    std::string dir;    ///< the directory holding the key's leaf
    std::string leaf;   ///< last segment of the key
    bool dir_is_root;   ///< the key has no '/': never rmdir its directory
};

std::string join(const std::string& root, std::string_view rel)
{
    if (rel.empty())
        return root;
    std::string out = root;
    if (out.back() != '/')
        out += '/';
    out += rel;
    return out;
}

/// Why `rel` (a '/'-separated relative path) is not acceptable as a key, or nullptr.
const char* key_problem(std::string_view rel)
{
    if (rel.empty())
        return "empty";
    if (rel.find('\0') != std::string_view::npos)
        return "contains a NUL byte";
    if (rel.front() == '/')
        return "absolute path";
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = rel.find('/', start);
        const std::string_view segment =
            rel.substr(start, slash == std::string_view::npos ? rel.npos : slash - start);
        if (segment.empty())
            return "empty path segment";
        if (segment == "." || segment == "..")
            return "'.' or '..' path segment";
        if (slash == std::string_view::npos)
            return nullptr;
        start = slash + 1;
    }
}

key_path resolve(const std::string& root, const std::string& key)
{
    // Lexical checks are enough to keep a key inside the root: no absolute path, no '..'.
    // Symbolic links that an administrator placed inside the root are followed.
    const std::size_t slash = key.rfind('/');
    key_path path;
    path.dir_is_root = slash == std::string::npos;
    path.leaf = path.dir_is_root ? key : key.substr(slash + 1);
    const char* problem = key_problem(key);
    // A key named like a temp file could be renamed over another writer's temp file, and
    // list() would never show it.
    if (problem == nullptr && path.leaf.starts_with(temp_marker))
        problem = "leaf name reserved for temporary files";
    if (problem != nullptr)
        throw_error(errc::invalid_state_id,
                    "invalid key \"" + printable(key) + "\": " + problem);
    path.full = join(root, key);
    path.dir = path.dir_is_root ? root : join(root, std::string_view(key).substr(0, slash));
    return path;
}

std::string normalise_root(std::string root)
{
    if (root.empty() || root.front() != '/' || root.find('\0') != std::string::npos)
        throw_error(errc::invalid_uri,
                    "file state store root must be an absolute directory path, got \""
                        + printable(root) + "\"");
    while (root.size() > 1 && root.back() == '/')
        root.pop_back();
    return root;
}

// ---------------------------------------------------------------------------------------
// Blocking building blocks (run on pool threads only)

/// Reads the rest of `fd`, retrying on EINTR.
std::string read_all(int fd, const std::string& path, std::size_t size_hint)
{
    std::string bytes;
    bytes.reserve(size_hint);
    char chunk[65536];
    while (true) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n > 0) {
            bytes.append(chunk, static_cast<std::size_t>(n));
        } else if (n == 0) {
            return bytes;
        } else if (errno != EINTR) {
            throw_io("read", path, errno);
        }
    }
}

/// Opens `name` relative to `dirfd` (AT_FDCWD for absolute paths) and returns its bytes and
/// version, or nullopt if it does not exist. `path` is for messages.
std::optional<blob> read_blob_at(int dirfd, const char* name, const std::string& path)
{
    // O_NONBLOCK: opening a FIFO someone placed there must not hang a pool thread; it
    // changes nothing for regular files.
    unique_fd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR)
            return std::nullopt;
        throw_io("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw_io("stat", path, errno);
    if (S_ISDIR(st.st_mode))
        throw_io("read", path, EISDIR);
    if (!S_ISREG(st.st_mode))
        throw_error(errc::io_error, "read " + path + ": not a regular file");
    blob result;
    result.bytes = read_all(fd.get(), path, static_cast<std::size_t>(st.st_size));
    // The version comes from the same descriptor, after the bytes were read: if an
    // in-place writer (Meltano itself) changed the file meanwhile, the content hash and
    // the identity can never both match a version taken before or after.
    if (::fstat(fd.get(), &st) != 0)
        throw_io("stat", path, errno);
    result.version = make_version(st, result.bytes);
    return result;
}

void fsync_dir(int dirfd, const std::string& dir)
{
    if (::fsync(dirfd) != 0)
        throw_io("fsync directory", dir, errno);
}

/// Creates `dir` (mode 0777, the umask applies) and makes its entry durable: a state file
/// fsync'ed into a directory whose own entry was lost in a crash would be lost with it.
bool make_dir(const std::string& dir)
{
    if (::mkdir(dir.c_str(), 0777) != 0)
        return false;
    const std::size_t slash = dir.rfind('/');
    const std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
    const unique_fd fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        throw_io("open directory", parent, errno);
    fsync_dir(fd.get(), parent);
    return true;
}

/// mkdir -p, like Python's os.makedirs(exist_ok=True): only missing levels are touched.
void make_dirs(const std::string& dir)
{
    if (make_dir(dir) || errno == EEXIST)
        return;
    if (errno != ENOENT)
        throw_io("create directory", dir, errno);
    const std::size_t slash = dir.rfind('/');
    if (slash != std::string::npos && slash > 0)
        make_dirs(dir.substr(0, slash));
    if (!make_dir(dir) && errno != EEXIST)
        throw_io("create directory", dir, errno);
}

unique_fd open_dir(const std::string& dir)
{
    return unique_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

/// flock(LOCK_EX) on a directory descriptor, released on destruction.
///
/// Why the directory: the lock has to exist before the key does (if_absent), must not be a
/// file that list() would report or that Meltano would mistake for its own `lock` object,
/// and must cover exactly the set of keys that a rename into this directory can replace.
/// flock() is per open file description, so every process and every thread (each opens
/// its own descriptor) excludes the others.
class dir_lock {
public:
    dir_lock(int dirfd, const std::string& dir) : fd_(dirfd)
    {
        while (::flock(fd_, LOCK_EX) != 0) {
            if (errno != EINTR)
                throw_io("lock directory", dir, errno);
        }
    }
    dir_lock(const dir_lock&) = delete;
    dir_lock& operator=(const dir_lock&) = delete;
    // Explicit unlock rather than relying on close(): if another thread forked meanwhile,
    // the child shares our open file description and would keep the lock alive.
    ~dir_lock() { ::flock(fd_, LOCK_UN); }

private:
    int fd_;
};

/// Whether the locked directory is still the one `dir` names. A concurrent remove() may
/// have rmdir'ed it (or someone renamed or rm -rf'ed it) between our open() and flock();
/// renaming a file into an unlinked directory would silently lose the write.
bool still_linked(int dirfd, const std::string& dir)
{
    struct stat held {};
    if (::fstat(dirfd, &held) != 0)
        throw_io("stat directory", dir, errno);
    if (held.st_nlink == 0)
        return false;
    struct stat named {};
    if (::stat(dir.c_str(), &named) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return false;
        throw_io("stat directory", dir, errno);
    }
    return named.st_dev == held.st_dev && named.st_ino == held.st_ino;
}

/// Our temp file, unlinked on destruction unless it was renamed into place.
class temp_file {
public:
    temp_file(int dirfd, std::string name, std::string path)
        : dirfd_(dirfd), name_(std::move(name)), path_(std::move(path))
    {
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file()
    {
        if (armed_)
            ::unlinkat(dirfd_, name_.c_str(), 0);
    }
    const std::string& name() const noexcept { return name_; }
    const std::string& path() const noexcept { return path_; }
    void committed() noexcept { armed_ = false; }

private:
    int dirfd_;
    std::string name_;
    std::string path_;
    bool armed_ = true;
};

std::string random_hex()
{
    // Per thread, so pool threads never share an engine; seeded from the OS, and a forked
    // child gets fresh pool threads (and a different pid in the name anyway).
    thread_local std::mt19937_64 engine{(static_cast<std::uint64_t>(std::random_device{}()) << 32)
                                        ^ std::random_device{}()};
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(engine()));
    return text;
}

void write_all(int fd, std::string_view bytes, const std::string& path)
{
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n > 0)
            bytes.remove_prefix(static_cast<std::size_t>(n));
        else if (n == 0)
            throw_io("write", path, EIO); // no progress: never loop forever
        else if (errno != EINTR)
            throw_io("write", path, errno);
    }
}

struct staged {
    std::string version;
    ino_t inode;
};

/// Creates, fills and fsyncs a temp file next to the key; nullopt if the directory was
/// removed under us (ENOENT). On success `tmp` names the file.
std::optional<staged> stage(int dirfd, const key_path& path, std::string_view bytes,
                            bool durable, std::optional<temp_file>& tmp)
{
    unique_fd fd;
    std::string name;
    for (int tries = 0; !fd; ++tries) {
        name = std::string(temp_marker)
               + path.leaf.substr(0, temp_leaf_max) + '.'
               + std::to_string(::getpid()) + '.' + random_hex();
        fd = unique_fd(::openat(dirfd, name.c_str(),
                                O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY, 0666));
        if (!fd) {
            if (errno == ENOENT)
                return std::nullopt;
            if (errno != EEXIST || tries >= 10)
                throw_io("create temporary file in", path.dir, errno);
        }
    }
    tmp.emplace(dirfd, name, join(path.dir, name));
    write_all(fd.get(), bytes, tmp->path());

    // Stamp the file with the fine-grained clock: the kernel sets mtime from a coarse clock
    // (a few ms), and an inode number freed by an earlier rename can be reused at once, so
    // two writes of identical bytes could otherwise get the same version (an ABA that would
    // let a stale if_version succeed).
    timespec now[2];
    ::clock_gettime(CLOCK_REALTIME, &now[0]);
    now[1] = now[0];
    if (::futimens(fd.get(), now) != 0)
        throw_io("set modification time of", tmp->path(), errno);

    if (durable && ::fsync(fd.get()) != 0)
        throw_io("fsync", tmp->path(), errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw_io("stat", tmp->path(), errno);
    staged result{make_version(st, bytes), st.st_ino};
    if (const int err = fd.close())
        throw_io("close", tmp->path(), err);
    return result;
}

enum class commit_outcome { done, precondition_failed };

/// Puts the staged temp file in place according to `pre`. Runs under the directory lock.
commit_outcome commit(int dirfd, const key_path& path, temp_file& tmp, const precondition& pre)
{
    const char* from = tmp.name().c_str();
    const char* to = path.leaf.c_str();
    auto rename_over = [&] {
        if (::renameat(dirfd, from, dirfd, to) != 0)
            throw_io("rename " + tmp.path() + " to", path.full, errno);
        tmp.committed();
    };

    switch (pre.type()) {
    case precondition::kind::none:
        rename_over();
        return commit_outcome::done;

    case precondition::kind::if_version: {
        // Our flock makes read-compare-rename atomic against every other statestore writer.
        const std::optional<blob> current = read_blob_at(dirfd, to, path.full);
        if (!current || current->version != pre.version())
            return commit_outcome::precondition_failed;
        rename_over();
        return commit_outcome::done;
    }

    case precondition::kind::if_absent:
        break;
    }

    // if_absent: RENAME_NOREPLACE is atomic in the kernel, so it also holds against writers
    // that do not take our flock (Meltano itself, a second copy on another NFS client).
    if (::renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0) {
        tmp.committed();
        return commit_outcome::done;
    }
    if (errno == EEXIST)
        return commit_outcome::precondition_failed;
    if (errno != EINVAL && errno != ENOSYS)
        throw_io("rename " + tmp.path() + " to", path.full, errno);

    // The file system cannot do RENAME_NOREPLACE: link() also fails atomically on an
    // existing name. The temp name is then unlinked by the temp_file guard.
    if (::linkat(dirfd, from, dirfd, to, 0) == 0)
        return commit_outcome::done;
    if (errno == EEXIST)
        return commit_outcome::precondition_failed;
    if (errno != EPERM && errno != EOPNOTSUPP)
        throw_io("link " + tmp.path() + " to", path.full, errno);

    // No hard links either (e.g. vfat): check and rename, atomic only under our flock.
    struct stat st {};
    if (::fstatat(dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return commit_outcome::precondition_failed;
    if (errno != ENOENT)
        throw_io("stat", path.full, errno);
    rename_over();
    return commit_outcome::done;
}

std::optional<std::string> write_blocking(const key_path& path, std::string_view bytes,
                                          const precondition& pre, bool durable)
{
    // Cheap early answer before paying for an fsync: when many contenders poll a held lock
    // with if_absent, or retry a CAS with a version that is already stale. Linearisable:
    // the precondition was false at the moment of this stat().
    if (pre.type() != precondition::kind::none) {
        struct stat st {};
        if (::stat(path.full.c_str(), &st) == 0) {
            if (pre.type() == precondition::kind::if_absent)
                return std::nullopt;
            if (!pre.version().starts_with(identity_prefix(st)))
                return std::nullopt;
        } else if ((errno == ENOENT || errno == ENOTDIR)
                   && pre.type() == precondition::kind::if_version) {
            return std::nullopt;
        }
        // Other errors: the real operations below will report them properly.
    }

    for (int attempt = 0; attempt < max_attempts; ++attempt) {
        make_dirs(path.dir);
        const unique_fd dir = open_dir(path.dir);
        if (!dir) {
            if (errno == ENOENT)
                continue; // removed right after we created it
            throw_io("open directory", path.dir, errno);
        }

        std::optional<temp_file> tmp;
        const std::optional<staged> ready = stage(dir.get(), path, bytes, durable, tmp);
        if (!ready)
            continue; // the directory was removed after we opened it

        const dir_lock lock(dir.get(), path.dir);
        // While our temp file is in the directory no remove() can rmdir it (ENOTEMPTY), but
        // a recursive delete by someone else can; check both the directory and our file.
        struct stat st {};
        if (!still_linked(dir.get(), path.dir)
            || ::fstatat(dir.get(), tmp->name().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0
            || st.st_ino != ready->inode)
            continue;

        if (commit(dir.get(), path, *tmp, pre) == commit_outcome::precondition_failed)
            return std::nullopt;
        // Make the new directory entry durable before reporting success.
        if (durable)
            fsync_dir(dir.get(), path.dir);
        return ready->version;
    }
    throw_error(errc::io_error, "write " + path.full + ": its directory was removed "
                                    + std::to_string(max_attempts)
                                    + " times while writing; giving up");
}

remove_result remove_blocking(const key_path& path, const precondition& pre, bool durable)
{
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
        const unique_fd dir = open_dir(path.dir);
        if (!dir) {
            if (errno == ENOENT || errno == ENOTDIR)
                return remove_result::not_found;
            throw_io("open directory", path.dir, errno);
        }
        const dir_lock lock(dir.get(), path.dir);
        if (!still_linked(dir.get(), path.dir))
            continue; // look at whatever the path names now

        if (pre.type() == precondition::kind::if_version) {
            const std::optional<blob> current = read_blob_at(dir.get(), path.leaf.c_str(),
                                                             path.full);
            if (!current)
                return remove_result::not_found;
            if (current->version != pre.version())
                return remove_result::precondition_failed;
        }
        if (::unlinkat(dir.get(), path.leaf.c_str(), 0) != 0) {
            if (errno == ENOENT)
                return remove_result::not_found;
            throw_io("remove", path.full, errno);
        }
        if (durable)
            fsync_dir(dir.get(), path.dir);

        // Meltano deletes the per-id directory with the state; S3 has no empty directories
        // either. Best effort: anything else in it (the lock, a writer's temp file) keeps
        // it, and any failure here does not undo the removal that already happened.
        if (!path.dir_is_root)
            ::rmdir(path.dir.c_str());
        return remove_result::removed;
    }
    throw_error(errc::io_error, "remove " + path.full + ": its directory was replaced "
                                    + std::to_string(max_attempts)
                                    + " times while removing; giving up");
}

// ---------------------------------------------------------------------------------------
// Listing

enum class entry_kind { file, directory, other };

entry_kind classify(int dirfd, const dirent& entry)
{
    switch (entry.d_type) {
    case DT_REG: return entry_kind::file;
    case DT_DIR: return entry_kind::directory;
    case DT_LNK:
    case DT_UNKNOWN: break;
    default: return entry_kind::other;
    }
    struct stat st {};
    if (entry.d_type == DT_UNKNOWN) {
        if (::fstatat(dirfd, entry.d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return entry_kind::other; // vanished meanwhile
        if (S_ISREG(st.st_mode))
            return entry_kind::file;
        if (S_ISDIR(st.st_mode))
            return entry_kind::directory;
        if (!S_ISLNK(st.st_mode))
            return entry_kind::other;
    }
    // A symbolic link counts as a key when it leads to a regular file (read() follows it).
    // Links to directories are not descended: they could form cycles or leave the root.
    if (::fstatat(dirfd, entry.d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
        return entry_kind::file;
    return entry_kind::other;
}

bool is_temp(std::string_view name) { return name.starts_with(temp_marker); }

/// Calls `visit(name, kind)` for each entry of the directory, "." and ".." excluded.
template <class Visit>
void for_each_entry(const dir_stream& dir, const std::string& path, Visit&& visit)
{
    while (true) {
        errno = 0;
        const dirent* entry = ::readdir(dir.get());
        if (entry == nullptr) {
            if (errno != 0)
                throw_io("read directory", path, errno);
            return;
        }
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..")
            continue;
        if (!visit(name, classify(dir.fd(), *entry)))
            return;
    }
}

/// Opens subdirectory `name` of `parent` without following a link; an empty stream if it
/// vanished meanwhile.
dir_stream open_subdir(int parent, std::string_view name, const std::string& path)
{
    const std::string leaf(name);
    unique_fd fd(::openat(parent, leaf.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return dir_stream(unique_fd());
        throw_io("open directory", path, errno);
    }
    dir_stream stream(std::move(fd));
    if (!stream)
        throw_io("open directory", path, errno);
    return stream;
}

/// Whether some key (a regular file that is not a temp file) lies anywhere beneath.
bool has_any_key(const dir_stream& dir, const std::string& path)
{
    bool found = false;
    for_each_entry(dir, path, [&](std::string_view name, entry_kind kind) {
        if (kind == entry_kind::file && !is_temp(name)) {
            found = true;
        } else if (kind == entry_kind::directory) {
            const std::string sub_path = path + '/' + std::string(name);
            const dir_stream sub = open_subdir(dir.fd(), name, sub_path);
            found = sub && has_any_key(sub, sub_path);
        }
        return !found;
    });
    return found;
}

/// Keeps the smallest page_size + 1 entries greater than the token, so that one walk can
/// both fill a page and tell whether another one follows. It also tells the walk which
/// subtrees cannot contribute, so paging through a large tree does not re-read all of it.
class page_collector {
public:
    explicit page_collector(std::string token) : token_(std::move(token)) {}

    /// Whether `entry` would be kept.
    bool wanted(const std::string& entry) const
    {
        return entry > token_ && !(full() && entry >= *best_.rbegin());
    }

    void offer(std::string entry)
    {
        if (!wanted(entry))
            return;
        best_.insert(std::move(entry));
        if (best_.size() > page_size + 1)
            best_.erase(std::prev(best_.end()));
    }

    /// Whether any key starting with `dir_prefix` (which ends with '/') could be kept.
    bool worth_visiting(const std::string& dir_prefix) const
    {
        // Every key beneath is >= dir_prefix and < dir_prefix with its '/' replaced by '0'
        // (the next byte value).
        std::string upper = dir_prefix;
        upper.back() = '/' + 1;
        if (!token_.empty() && upper <= token_)
            return false;
        return !(full() && dir_prefix >= *best_.rbegin());
    }

    /// The page: entries in byte order, with the next token if more exist.
    list_page finish(bool with_delimiter)
    {
        list_page page;
        std::size_t count = 0;
        std::string last;
        for (auto& entry : best_) {
            if (count++ == page_size) {
                page.next_token = last;
                break;
            }
            last = entry;
            // Keys never end with '/'; rolled-up prefixes always do.
            if (with_delimiter && entry.back() == '/')
                page.common_prefixes.push_back(entry);
            else
                page.keys.push_back(entry);
        }
        return page;
    }

private:
    bool full() const noexcept { return best_.size() > page_size; }

    std::string token_;
    std::set<std::string> best_;
};

/// Every key beneath `dir` (whose keys start with `rel`), recursively.
void collect_all(const dir_stream& dir, const std::string& path, const std::string& rel,
                 std::string_view name_filter, page_collector& page)
{
    for_each_entry(dir, path, [&](std::string_view name, entry_kind kind) {
        if (!name.starts_with(name_filter))
            return true;
        if (kind == entry_kind::file) {
            if (!is_temp(name))
                page.offer(rel + std::string(name));
        } else if (kind == entry_kind::directory) {
            std::string sub_rel = rel + std::string(name) + '/';
            if (page.worth_visiting(sub_rel)) {
                const std::string sub_path = path + '/' + std::string(name);
                const dir_stream sub = open_subdir(dir.fd(), name, sub_path);
                if (sub)
                    collect_all(sub, sub_path, sub_rel, {}, page);
            }
        }
        return true;
    });
}

/// The direct children of `dir`: files as keys, non-empty directories as common prefixes.
void collect_level(const dir_stream& dir, const std::string& path, const std::string& rel,
                   std::string_view name_filter, page_collector& page)
{
    for_each_entry(dir, path, [&](std::string_view name, entry_kind kind) {
        if (!name.starts_with(name_filter))
            return true;
        if (kind == entry_kind::file) {
            if (!is_temp(name))
                page.offer(rel + std::string(name));
        } else if (kind == entry_kind::directory) {
            std::string prefix = rel + std::string(name) + '/';
            if (page.wanted(prefix)) {
                const std::string sub_path = path + '/' + std::string(name);
                const dir_stream sub = open_subdir(dir.fd(), name, sub_path);
                if (sub && has_any_key(sub, sub_path))
                    page.offer(std::move(prefix));
            }
        }
        return true;
    });
}

list_page list_blocking(const std::string& root, const std::string& prefix, bool delimited,
                        const std::string& token)
{
    // Start at the deepest directory the prefix names in full: "a/b/" -> a/b, every name;
    // "a/b" -> a, names starting with "b".
    const std::size_t slash = prefix.rfind('/');
    const std::string dir_rel = slash == std::string::npos ? "" : prefix.substr(0, slash);
    const std::string_view name_filter =
        slash == std::string::npos ? std::string_view(prefix)
                                   : std::string_view(prefix).substr(slash + 1);
    // A directory part no key could have ("..", "//", "/abs") matches nothing; it must
    // never be opened, or the listing could leave the root.
    if (slash != std::string::npos && key_problem(dir_rel) != nullptr)
        return {};

    const std::string dir_path = join(root, dir_rel);
    unique_fd fd(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR)
            return {};
        throw_io("open directory", dir_path, errno);
    }
    const dir_stream dir(std::move(fd));
    if (!dir)
        throw_io("open directory", dir_path, errno);

    page_collector page(token);
    const std::string rel = dir_rel.empty() ? "" : dir_rel + '/';
    if (delimited)
        collect_level(dir, dir_path, rel, name_filter, page);
    else
        collect_all(dir, dir_path, rel, name_filter, page);
    return page.finish(delimited);
}

} // namespace

// ---------------------------------------------------------------------------------------

file_store::file_store(std::string root, std::shared_ptr<blocking_pool> pool)
    : root_(normalise_root(std::move(root))), pool_(std::move(pool))
{
    if (!pool_)
        throw std::invalid_argument("file_store needs a blocking_pool");
}

std::string file_store::describe() const { return "file://" + root_; }

std::uint64_t file_store::requests_sent() const noexcept
{
    return requests_.load(std::memory_order_relaxed);
}

asio::awaitable<std::optional<blob>> file_store::read(std::string key)
{
    const key_path path = resolve(root_, key);
    // Named std::function locals: g++ 12 miscompiles capturing-lambda temporaries in a
    // full-expression with co_await (toolchain.md section 0).
    std::function<std::optional<blob>()> job = [&path] {
        return read_blob_at(AT_FDCWD, path.full.c_str(), path.full);
    };
    requests_.fetch_add(1, std::memory_order_relaxed);
    co_return co_await pool_->call<std::optional<blob>>(std::move(job));
}

asio::awaitable<std::optional<std::string>>
file_store::write(std::string key, std::string bytes, precondition pre, durability mode)
{
    const key_path path = resolve(root_, key);
    const bool durable = mode == durability::durable;
    std::function<std::optional<std::string>()> job = [&path, &bytes, &pre, durable] {
        return write_blocking(path, bytes, pre, durable);
    };
    requests_.fetch_add(1, std::memory_order_relaxed);
    co_return co_await pool_->call<std::optional<std::string>>(std::move(job));
}

asio::awaitable<remove_result> file_store::remove(std::string key, precondition pre,
                                                  durability mode)
{
    const key_path path = resolve(root_, key);
    if (pre.type() == precondition::kind::if_absent)
        throw std::invalid_argument("file_store::remove: if_absent is not a meaningful "
                                    "precondition for removing " + path.full);
    const bool durable = mode == durability::durable;
    std::function<remove_result()> job = [&path, &pre, durable] {
        return remove_blocking(path, pre, durable);
    };
    requests_.fetch_add(1, std::memory_order_relaxed);
    co_return co_await pool_->call<remove_result>(std::move(job));
}

asio::awaitable<list_page>
file_store::list(std::string prefix, std::string delimiter, std::string page_token)
{
    if (!delimiter.empty() && delimiter != "/")
        throw std::invalid_argument("file_store::list supports only the delimiter \"/\" or "
                                    "none, got \"" + printable(delimiter) + "\"");
    const bool delimited = !delimiter.empty();
    std::function<list_page()> job = [this, &prefix, delimited, &page_token] {
        return list_blocking(root_, prefix, delimited, page_token);
    };
    requests_.fetch_add(1, std::memory_order_relaxed);
    co_return co_await pool_->call<list_page>(std::move(job));
}

} // namespace statestore
