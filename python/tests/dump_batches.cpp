// ferry-py-dump-batches: the C++ side of the Python "same bytes" test. Runs a
// DataLoader over a dataset and writes every batch's field bytes, in field
// order (values, then offsets for ragged fields), to one file.
//
//   ferry-py-dump-batches SPEC PIPELINE SIZE BATCH_SIZE NUM_WORKERS SEED SHUFFLE EPOCHS OUT
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "loader/data_loader.h"
#include "loader/datasets/image_dataset.h"
#include "loader/datasets/open_source.h"
#include "loader/datasets/raw_bytes_dataset.h"
#include "transforms/image_pipeline.h"

namespace {

void write_view(std::FILE* f, const ferry::TensorView& v) {
  if (std::fwrite(v.data, 1, v.nbytes(), f) != v.nbytes()) throw std::runtime_error("short write");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr,
                 "usage: %s SPEC PIPELINE SIZE BATCH_SIZE NUM_WORKERS SEED SHUFFLE EPOCHS OUT\n"
                 "  PIPELINE: a PipelineSpec name, or 'raw' for the encoded bytes\n",
                 argv[0]);
    return 2;
  }
  try {
    const std::string spec = argv[1], pipeline = argv[2];
    const int size = std::atoi(argv[3]);
    auto source = ferry::open_source(spec);
    std::shared_ptr<ferry::Dataset> ds;
    if (pipeline == "raw")
      ds = std::make_shared<ferry::RawBytesDataset>(source);
    else
      ds = std::make_shared<ferry::ImageDataset>(source, ferry::transforms::PipelineSpec::named(pipeline, size));
    ferry::LoaderOptions o;
    o.batch_size = std::atoll(argv[4]);
    o.num_workers = std::atoi(argv[5]);
    o.seed = std::strtoull(argv[6], nullptr, 10);
    o.shuffle = std::atoi(argv[7]) != 0;
    const int epochs = std::atoi(argv[8]);
    ferry::DataLoader loader(ds, o);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(argv[9], "wb"), &std::fclose);
    if (!out) throw std::runtime_error(std::string("cannot open ") + argv[9]);
    for (int e = 0; e < epochs; ++e) {
      for (auto& batch : loader) {
        for (const auto& field : batch.fields()) {
          write_view(out.get(), field.values);
          if (field.ragged) write_view(out.get(), field.offsets);
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry-py-dump-batches: %s\n", e.what());
    return 1;
  }
  return 0;
}
