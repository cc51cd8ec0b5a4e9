// ferry-train-example-cpp: trains a small CNN with libtorch on an ImageFolder,
// with batches from ferry's DataLoader wrapped by torch::from_blob: the tensor
// *is* the batch's shared memory, and its deleter holds the batch's keep-alive,
// so the slot returns to the worker when the last tensor using it is freed.
//
//   ferry-train-example-cpp --data DIR [--steps 200] [--batch-size 32]
//                           [--workers 2] [--size 64]
//
// It links libtorch's CPU library only, so it trains on the CPU.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include "loader/data_loader.h"
#include "loader/datasets/image_dataset.h"
#include "loader/datasets/open_source.h"
#include "tools/cli/cli.h"
#include "transforms/image_pipeline.h"

namespace {

struct Args {
  std::string data;
  int steps = 200;
  int batch_size = 32;
  int workers = 2;
  int size = 64;
};

// Declares the flags into `app`, each once with its range and help.
void declare_flags(CLI::App& app, Args& a) {
  using ferry::cli::integer_in;
  app.add_option("--data", a.data, "an ImageFolder (or any source open_source takes)")
      ->type_name("DIR")
      ->required()
      ->check(CLI::ExistingPath);
  app.add_option("--steps", a.steps, "optimizer steps")->check(integer_in(1, 100'000'000))->capture_default_str();
  app.add_option("--batch-size", a.batch_size, "samples per batch")->check(integer_in(1, 65536))->capture_default_str();
  app.add_option("--workers", a.workers, "worker processes (0: the calling thread)")
      ->check(integer_in(0, 1024))
      ->capture_default_str();
  app.add_option("--size", a.size, "the train pipeline's output size")
      ->check(integer_in(8, 4096))
      ->capture_default_str();
}

torch::Dtype torch_dtype(ferry::DType t) {
  switch (t) {
    case ferry::DType::kUInt8:
      return torch::kUInt8;
    case ferry::DType::kInt32:
      return torch::kInt32;
    case ferry::DType::kInt64:
      return torch::kInt64;
    case ferry::DType::kFloat16:
      return torch::kFloat16;
    case ferry::DType::kBFloat16:
      return torch::kBFloat16;
    case ferry::DType::kFloat32:
      return torch::kFloat32;
    case ferry::DType::kFloat64:
      return torch::kFloat64;
    case ferry::DType::kBool:
      return torch::kBool;
    case ferry::DType::kInt8:
      return torch::kInt8;
    case ferry::DType::kInt16:
      return torch::kInt16;
    case ferry::DType::kUInt16:
      return torch::kUInt16;
  }
  throw std::logic_error("unknown dtype");
}

// A tensor over the field's memory; the deleter keeps the batch slot alive.
torch::Tensor wrap(const ferry::Batch& batch, const std::string& name) {
  const ferry::TensorView& v = batch[name];
  std::shared_ptr<void> keep = batch.owner();
  return torch::from_blob(
      v.data, v.shape, v.strides, [keep](void*) mutable { keep.reset(); },
      torch::TensorOptions().dtype(torch_dtype(v.dtype)));
}

// Four stride-2 conv blocks, global pooling, a linear classifier.
torch::nn::Sequential small_cnn(int64_t classes) {
  namespace nn = torch::nn;
  nn::Sequential net;
  int64_t in = 3;
  for (int64_t out : {32, 64, 128, 256}) {
    net->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2).padding(1).bias(false)));
    net->push_back(nn::BatchNorm2d(out));
    net->push_back(nn::ReLU(nn::ReLUOptions(true)));
    in = out;
  }
  net->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  net->push_back(nn::Flatten());
  net->push_back(nn::Linear(in, classes));
  return net;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"Trains a small CNN with libtorch on the CPU, fed by ferry's DataLoader without copies.",
               "ferry-train-example-cpp"};
  declare_flags(app, args);
  if (const auto status = ferry::cli::parse(app, argc, argv)) return *status;
  try {
    const torch::Device device(torch::kCPU);
    auto source = ferry::open_source(args.data);
    const int64_t classes = source->num_classes();
    auto dataset =
        std::make_shared<ferry::ImageDataset>(source, ferry::transforms::PipelineSpec::named("train", args.size));
    ferry::LoaderOptions opt;
    opt.batch_size = args.batch_size;
    opt.shuffle = true;
    opt.drop_last = true;
    opt.num_workers = args.workers;
    opt.persistent_workers = true;
    ferry::DataLoader loader(dataset, opt);
    std::printf("%s\n", loader.describe().c_str());

    auto model = small_cnn(classes);
    model->to(device);
    torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4));

    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    auto t_log = t0;
    int step = 0;
    int64_t images_log = 0;
    while (step < args.steps) {
      for (auto& batch : loader) {
        torch::Tensor x = wrap(batch, "image");  // the batch's shared memory itself
        torch::Tensor y = wrap(batch, "label");
        torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
        sgd.zero_grad();
        loss.backward();
        sgd.step();
        ++step;
        images_log += batch.size();
        if (step % 20 == 0 || step == args.steps) {
          const auto now = clock::now();
          const double s = std::chrono::duration<double>(now - t_log).count();
          std::printf("step %5d  loss %.4f  %8.1f images/s\n", step, loss.item<float>(), double(images_log) / s);
          std::fflush(stdout);
          t_log = now;
          images_log = 0;
        }
        if (step >= args.steps) break;
      }
    }
    const double total = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("done: %.1f images/s over %d steps (%.1f s)\n", double(step) * args.batch_size / total, step, total);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry-train-example-cpp: %s\n", e.what());
    return 1;
  }
}
