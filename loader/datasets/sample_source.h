#pragma once
/// Where encoded samples (JPEG, PNG or WebP bytes plus a class label) come from.
///
/// A SampleSource is an indexed, read-only collection: sample i has a label,
/// a path for messages and its encoded bytes. The implementations are
///
///   ImageFolder   root/<class>/<file>, torchvision semantics   (image_folder.h)
///   FileList      a CSV/TSV of `path,label`                    (file_list.h)
///   TarShards     WebDataset .tar shards, brace patterns       (tar_shards.h)
///   PackedFile    ferry's own .ferry record file (mmap, CRC32C) (packed_file.h)
///
/// and open_source() (open_source.h) picks one from a string. Datasets for the
/// loader wrap a source: ImageDataset decodes, RawBytesDataset passes bytes.
/// Segmentation pairs (an image and a mask per sample) have their own index,
/// SegmentationPairs (segmentation_pairs.h).
///
/// Thread safety: every const member may be called concurrently; read() keeps
/// its state in the caller's scratch buffer. A source opened before fork()
/// stays valid in the child (positional reads only, no shared file offsets).
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

/// Allocator for read buffers: page-aligned memory, elements left
/// uninitialized on resize. Both matter for speed: the kernel copies file
/// pages into a page-aligned buffer about 4x faster than into malloc's
/// 16-byte-aligned one (10 vs 2.5 GB/s here: the `rep movsb` fast path needs
/// matching alignment), and resize() does not zero bytes a read overwrites.
template <class T>
struct PageAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{4096};
  PageAlignedAllocator() = default;
  template <class U>
  PageAlignedAllocator(const PageAlignedAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
      ::new (static_cast<void*>(p)) U;  // default-init: no zeroing
    } else {
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
  }
  template <class U>
  bool operator==(const PageAlignedAllocator<U>&) const noexcept {
    return true;
  }
};

/// A reusable buffer for SampleSource::read (see PageAlignedAllocator).
using ReadBuffer = std::vector<uint8_t, PageAlignedAllocator<uint8_t>>;

class SampleSource {
 public:
  virtual ~SampleSource() = default;

  /// Number of samples.
  virtual int64_t size() const = 0;
  /// Class label of sample i (>= 0), or -1 when the source has none for it.
  virtual int64_t label(int64_t i) const = 0;
  /// The encoded bytes of sample i. They live either in `scratch` (resized to
  /// fit, capacity reused, so a steady state allocates nothing) or in memory
  /// the source owns (a mapping); valid until the next read into `scratch`
  /// and while the source lives. Throws DataError (naming path(i)) when the
  /// bytes cannot be read or fail their checksum.
  virtual std::span<const uint8_t> read(int64_t i, ReadBuffer& scratch) const = 0;
  /// Where sample i lives, for messages: "/data/train/cat/1.jpg",
  /// "shard-000003.tar:000123.jpg" or "train.ferry#record 17".
  virtual std::string path(int64_t i) const = 0;
  /// 1 + the largest label (0 when there are no labels).
  virtual int64_t num_classes() const = 0;
  /// One line for reports, e.g. "ImageFolder(/data/train: 1000 classes, 1281167 files, indexed in 2.1 s)".
  virtual std::string describe() const = 0;
};

}  // namespace ferry
