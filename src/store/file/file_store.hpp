#pragma once
// blob_store over a local directory (URI file:///abs/dir). Keys are relative paths.
//
// - Writes are crash-safe: temp file in the same directory, fsync, rename, fsync of the
//   directory. A reader sees the old bytes or the new bytes, never a torn file.
// - if_absent is atomic across processes (renameat2 RENAME_NOREPLACE).
// - if_version is compare-and-swap across processes on one host: the check and the rename
//   run under flock() on the key's directory.
// - Versions are "<inode>.<mtime ns>.<fnv64 of content>": new on every write.
// - All file system calls run on a blocking_pool; the io_context thread never touches disk.

#include "statestore/blob_store.hpp"
#include "async/blocking_pool.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace statestore {

class file_store final : public blob_store {
public:
    /// `root` must be an absolute directory path; it is created (mkdir -p) on first write.
    file_store(std::string root, std::shared_ptr<blocking_pool> pool);

    std::string describe() const override;
    std::uint64_t requests_sent() const noexcept override;
    const std::string& root() const noexcept { return root_; }

    using blob_store::remove;
    using blob_store::write;

    boost::asio::awaitable<std::optional<blob>> read(std::string key) override;
    /// durability::ephemeral skips the fsync of the file and of its directory: a reader in
    /// another process still sees the old or the new content, but after a power failure
    /// the object may be missing or empty.
    boost::asio::awaitable<std::optional<std::string>>
    write(std::string key, std::string bytes, precondition pre, durability mode) override;
    boost::asio::awaitable<remove_result> remove(std::string key, precondition pre,
                                                 durability mode) override;
    boost::asio::awaitable<list_page>
    list(std::string prefix, std::string delimiter, std::string page_token) override;

private:
    std::string root_;
    std::shared_ptr<blocking_pool> pool_;
    std::atomic<std::uint64_t> requests_{0};
};

} // namespace statestore
