#!/usr/bin/env bash
# A journaled ext4 file system on a loop-mounted image, for the migration benchmark's local
# backends (root only):
#
#   bench/journaled_ext4.sh mount DIR [SIZE]   # default SIZE 8G (sparse), image DIR.img
#   bench/migrate_bench.sh --local-dir DIR ...
#   bench/journaled_ext4.sh umount DIR         # unmounts and deletes the image
#
# Why: this machine's root file system is ext4 *without* a journal, where every inode
# allocation scans past the inodes freed in the last 60-300 s (fs/ext4/ialloc.c,
# recently_deleted). A locked migration allocates three inodes per id and frees one (the
# lock), the ceiling's bare writes allocate two and free none, so there the ratio of the two
# measures that allocator more than statestore. mkfs.ext4's default (with a journal) is
# what most machines run. The image's fsyncs reach the disk through the loop device.
set -euo pipefail
action=${1:-}; dir=${2:-}
[ -n "$action" ] && [ -n "$dir" ] || { echo "usage: $0 mount|umount DIR [SIZE]" >&2; exit 2; }
image="${dir%/}.img"
case "$action" in
  mount)
    if mountpoint -q "$dir"; then echo "$dir: already mounted"; exit 0; fi
    mkdir -p "$dir"
    truncate -s "${3:-8G}" "$image"
    mkfs.ext4 -q -F -O has_journal "$image"
    mount -o loop "$image" "$dir"
    echo "$dir: ext4 with a journal on $(findmnt -no SOURCE -T "$dir") (image $image)"
    ;;
  umount)
    if mountpoint -q "$dir"; then umount "$dir"; fi
    rm -f "$image"
    rmdir "$dir" 2>/dev/null || true
    ;;
  *) echo "usage: $0 mount|umount DIR [SIZE]" >&2; exit 2 ;;
esac
