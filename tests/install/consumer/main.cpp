// A program built against an installed ferry: batches of an image folder.
#include <cstdio>
#include <string>

#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  ferry::LoaderOptions o;
  o.batch_size = 4;
  o.num_workers = 2;
  o.start_method = std::string(argv[2]) == "spawn" ? ferry::StartMethod::kSpawn : ferry::StartMethod::kFork;
  ferry::DataLoader loader(ferry::open_image_dataset(argv[1], ferry::transforms::PipelineSpec::named("val")), o);
  long long images = 0;
  for (auto& batch : loader) images += batch.size();
  std::printf("consumer: %lld images\n", images);
  return 0;
}
