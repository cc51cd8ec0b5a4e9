#include "python/src/loader.h"

#include <pybind11/stl.h>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "base/error.h"
#include "loader/builtin_datasets.h"
#include "loader/data_loader.h"
#include "loader/datasets/image_folder.h"
#include "loader/datasets/open_source.h"
#include "loader/samplers/distributed_sampler.h"
#include "python/src/py_dataset.h"
#include "python/src/py_worker.h"
#include "python/src/tensor.h"
#include "transforms/image_pipeline.h"

namespace py = pybind11;

namespace ferry::python {

namespace {

/// A dataset as Python holds it: the C++ Dataset (built by
/// open_image_dataset/open_raw_dataset, so spawned workers can rebuild it
/// from its spec) and the source spec string; the SampleSource behind path()
/// and label() is opened on first use.
struct PyDataset {
  std::shared_ptr<Dataset> dataset;
  std::string spec;  // empty for a segmentation dataset, which has no SampleSource
  std::shared_ptr<std::shared_ptr<SampleSource>> source = std::make_shared<std::shared_ptr<SampleSource>>();

  const SampleSource& src() const {
    if (spec.empty())
      throw InvalidOption(
          "ferry: a segmentation dataset has (image, mask) pairs, not labelled samples: no "
          "path(), label(), classes or num_classes");
    if (!*source) {
      py::gil_scoped_release nogil;
      *source = open_source(spec);
    }
    return **source;
  }
};

// One ColorJitter parameter: a strength x (torchvision's [1-x, 1+x], or
// [-x, x] for hue) or a (min, max) pair.
transforms::JitterRange jitter_range(const py::handle& v, bool hue) {
  if (py::isinstance<py::sequence>(v)) {
    const auto pair = v.cast<std::vector<double>>();
    if (pair.size() != 2) throw InvalidOption("ferry: a color_jitter entry is a number or a (min, max) pair");
    return {pair[0], pair[1]};
  }
  const double x = v.cast<double>();
  const auto j =
      hue ? transforms::ColorJitter::from_strengths(0, 0, 0, x) : transforms::ColorJitter::from_strengths(x, 0, 0, 0);
  return hue ? j.hue : j.brightness;
}

// A named pipeline with the augmentation keyword arguments on top.
transforms::PipelineSpec pipeline_spec(const std::string& pipeline, int size, const py::object& color_jitter,
                                       double random_grayscale, const std::string& interpolation) {
  transforms::PipelineSpec p = transforms::PipelineSpec::named(pipeline, size);
  if (!color_jitter.is_none()) {
    const auto items = color_jitter.cast<py::sequence>();
    if (items.size() != 4)
      throw InvalidOption(
          "ferry: color_jitter is (brightness, contrast, saturation, hue), as torchvision's ColorJitter");
    p.color_jitter = {jitter_range(items[0], false), jitter_range(items[1], false), jitter_range(items[2], false),
                      jitter_range(items[3], true)};
  }
  p.grayscale_p = random_grayscale;
  const auto filter = transforms::parse_interpolation(interpolation);
  if (!filter)
    throw InvalidOption("ferry: interpolation must be 'bilinear', 'bicubic' or 'nearest', got '" + interpolation + "'");
  p.interpolation = *filter;
  p.validate();
  return p;
}

PyDataset make_dataset(const std::string& spec, const std::string& pipeline, int size, const py::object& color_jitter,
                       double random_grayscale, const std::string& interpolation) {
  PyDataset d;
  d.spec = spec;
  if (pipeline == "raw") {
    if (!color_jitter.is_none() || random_grayscale != 0 || interpolation != "bilinear")
      throw InvalidOption(
          "ferry: pipeline='raw' decodes nothing; color_jitter, random_grayscale and interpolation "
          "need a decoding pipeline");
    py::gil_scoped_release nogil;  // indexing a large tree takes a while
    d.dataset = open_raw_dataset(spec);
    return d;
  }
  const auto p = pipeline_spec(pipeline, size, color_jitter, random_grayscale, interpolation);
  py::gil_scoped_release nogil;
  d.dataset = open_image_dataset(spec, p);
  return d;
}

py::list schema_list(const Schema& schema) {
  py::list out;
  for (const FieldSpec& f : schema) {
    py::dict d;
    d["name"] = f.name;
    d["dtype"] = std::string(dtype_name(f.dtype));
    d["shape"] = py::tuple(py::cast(f.shape));
    d["ragged"] = f.ragged;
    out.append(d);
  }
  return out;
}

/// Thrown by on_interrupt when a Python signal handler raised: the Python
/// error stays set in this thread and is re-raised once the loader is safe.
struct InterruptedWait {};

// True/False, or "auto" (page-locked when a GPU is usable, else off).
PinMemory parse_pin_memory(const py::object& v) {
  if (py::isinstance<py::str>(v)) {
    const std::string name = v.cast<std::string>();
    if (name == "auto") return PinMemory::kAuto;
    throw InvalidOption("ferry: pin_memory must be True, False or 'auto', got '" + name + "'");
  }
  return v.cast<bool>() ? PinMemory::kOn : PinMemory::kOff;
}

// None or "cpu": host batches; "cuda", "cuda:N" or N: batches copied to GPU N.
int parse_device(const py::object& v) {
  if (v.is_none()) return -1;
  if (py::isinstance<py::int_>(v)) return v.cast<int>();
  const std::string s = py::str(v).cast<std::string>();  // a torch.device prints as "cuda:0"
  if (s == "cpu") return -1;
  if (s == "cuda") return 0;
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.find_first_not_of("0123456789", 5) == std::string::npos)
    return std::stoi(s.substr(5));
  throw InvalidOption("ferry: device must be None, 'cpu', 'cuda', 'cuda:N' or an int N, got '" + s + "'");
}

// The ferry-worker program shipped beside the module (pip install puts it in
// ferry_bin/ next to the .so), for the spawn start method. The engine's own
// lookup ($FERRY_WORKER, beside the python executable, the build tree) comes
// after; an empty result leaves the choice to it.
std::string worker_beside_module() {
  if (const char* env = std::getenv("FERRY_WORKER"); env && *env) return {};
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&worker_beside_module), &info) == 0 || !info.dli_fname) return {};
  std::string dir = info.dli_fname;
  if (dir.find('/') == std::string::npos) return {};
  dir = dir.substr(0, dir.rfind('/'));
  for (const std::string& p : {dir + "/ferry_bin/ferry-worker", dir + "/ferry-worker"})
    if (access(p.c_str(), X_OK) == 0) return p;
  return {};
}

std::string g_default_worker;  // worker_beside_module(), found at import

// The arguments as given, for the loader's attributes (as torch's DataLoader has them).
struct GivenOptions {
  py::object batch_size, prefetch_factor, pin_memory, collate_fn, worker_init_fn, rank, world_size;
  double timeout = 0;
  std::string on_bad_sample, on_worker_failure, start_method;
};

class PyLoader {
 public:
  PyLoader(LoaderInput input, LoaderOptions options, GivenOptions given)
      : input_(std::move(input)),
        options_(std::move(options)),
        given_(std::move(given)),
        convert_(input_.layout, given_.batch_size.is_none(), given_.collate_fn) {
    options_.on_interrupt = [] {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) throw InterruptedWait{};
    };
    loader_ = input_.iterable ? std::make_unique<DataLoader>(input_.iterable, options_)
                              : std::make_unique<DataLoader>(input_.dataset, options_);
  }

  ~PyLoader() {
    py::gil_scoped_release nogil;  // shutdown waits for workers (bounded)
    loader_.reset();
  }

  int64_t size() const {
    const int64_t n = loader_->size();
    // As torch's DataLoader over an IterableDataset without __len__.
    if (n < 0)
      throw py::type_error("ferry: this DataLoader has no len(): it reads an iterable dataset (" +
                           python_type_name(input_.python_dataset) + ") without __len__");
    return n;
  }

  /// Starts the next epoch; the returned token identifies its iterator.
  uint64_t start_epoch() {
    auto lock = take("iter()");
    {
      py::gil_scoped_release nogil;
      loader_->start_epoch();
    }
    current_epoch_ = loader_->next_epoch() - 1;
    running_ = true;
    delivered_ = 0;
    return ++token_;
  }

  py::object next(uint64_t token) {
    auto lock = take("next()");
    if (token != token_)
      throw std::runtime_error(
          "ferry: this iterator's epoch was ended by a later iter(loader); "
          "use one iterator at a time per DataLoader");
    if (!running_) throw py::stop_iteration();
    Batch batch;
    bool got = false;
    try {
      py::gil_scoped_release nogil;
      got = loader_->next(batch);
    } catch (const InterruptedWait&) {
      py::error_already_set err;  // KeyboardInterrupt (or what the handler raised)
      running_ = false;
      restart();
      throw err;
    } catch (const PythonInterrupt& interrupt) {  // raised by __getitem__ in this thread
      running_ = false;
      restart();
      throw *interrupt.error;
    } catch (...) {
      running_ = false;  // the C++ loader ends the epoch after an error
      // A Ctrl-C that broke a blocking call in the calling thread (num_workers
      // 0: open() returns EINTR) surfaces as a sample error; the signal wins.
      if (PyErr_CheckSignals() != 0) {
        py::error_already_set err;
        restart();
        throw err;
      }
      throw;
    }
    if (!got) {
      running_ = false;
      throw py::stop_iteration();
    }
    ++delivered_;
    return convert_(batch);
  }

  void set_epoch(uint64_t epoch) {
    auto lock = take("set_epoch()");
    loader_->set_epoch(epoch);
  }
  uint64_t next_epoch() const { return loader_->next_epoch(); }

  py::dict state_dict() {
    auto lock = take("state_dict()");
    py::dict d;
    d["epoch"] = running_ ? current_epoch_ : loader_->next_epoch();
    d["batches_delivered"] = running_ ? delivered_ : 0;
    d["seed"] = options_.seed;
    d["batch_size"] = options_.batch_size;
    const LoaderState s = loader_->state();  // resumes mid-epoch too
    d["epoch"] = s.epoch;
    d["state"] = s.serialize();
    return d;
  }

  void load_state_dict(const py::dict& d) {
    auto lock = take("load_state_dict()");
    if (d.contains("seed") && d["seed"].cast<uint64_t>() != options_.seed)
      throw InvalidOption("ferry: load_state_dict: the state was saved with seed " +
                          std::to_string(d["seed"].cast<uint64_t>()) + ", this loader has seed " +
                          std::to_string(options_.seed));
    if (d.contains("batch_size") && d["batch_size"].cast<int64_t>() != options_.batch_size)
      throw InvalidOption("ferry: load_state_dict: the state was saved with batch_size " +
                          std::to_string(d["batch_size"].cast<int64_t>()) + ", this loader has batch_size " +
                          std::to_string(options_.batch_size));
    if (d.contains("state")) {
      loader_->load_state(LoaderState::parse(d["state"].cast<std::string>()));
    } else if (d.contains("epoch")) {  // a hand-written {"epoch": n}: that epoch from its start
      loader_->set_epoch(d["epoch"].cast<uint64_t>());
    } else {
      throw InvalidOption("ferry: load_state_dict: the state has neither 'state' nor 'epoch'");
    }
    running_ = false;
  }

  py::dict stats() {
    auto lock = take("stats()");
    const LoaderStats s = loader_->stats();
    py::dict d;
    d["batches"] = s.batches;
    d["samples"] = s.samples;
    d["skipped_samples"] = s.skipped_samples;
    d["substituted_samples"] = s.substituted_samples;
    d["decode_warnings"] = s.decode_warnings;
    d["bad_sample_messages"] = s.bad_sample_messages;
    d["consumer_wait_s"] = double(s.consumer_wait_ns) * 1e-9;
    d["worker_busy_s"] = double(s.worker_busy_ns) * 1e-9;
    d["worker_start_s"] = double(s.worker_start_ns) * 1e-9;
    d["worker_starts"] = s.worker_starts;
    d["one_off_segments"] = s.one_off_segments;
    d["pageable_batches"] = s.pageable_batches;
    d["worker_respawns"] = s.worker_respawns;
    d["start_method"] = s.start_method;
    py::dict stages;
    for (size_t i = 0; i < trace::kStageCount; ++i)
      stages[py::str(std::string(trace::stage_name(trace::Stage(i))))] = double(s.stage_ns.ns[i]) * 1e-9;
    d["stage_s"] = stages;
    d["batch_latency_s"] = [&] {
      py::list l;
      for (uint64_t ns : s.batch_latency_ns) l.append(double(ns) * 1e-9);
      return l;
    }();
    return d;
  }

  std::string describe() {
    auto lock = take("describe()");
    return loader_->describe();
  }
  std::vector<int> worker_pids() {
    auto lock = take("worker_pids()");
    return loader_->worker_pids();
  }
  size_t slot_bytes() const { return loader_->slot_bytes(); }

  /// Stops the workers now; the next iter() starts fresh ones.
  void close() {
    auto lock = take("close()");
    running_ = false;
    restart();
  }

  /// The iterator of epoch `token` was dropped. If it was still running, a
  /// non-persistent loader stops its workers now, as PyTorch's does, rather
  /// than when the next iter() or the loader's end comes. Never throws.
  void abandon(uint64_t token) noexcept {
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock() || token != token_ || !running_) return;
    running_ = false;
    if (options_.persistent_workers) return;
    py::gil_scoped_release nogil;
    loader_->close();
  }

  const py::object& dataset() const { return input_.python_dataset; }
  const LoaderOptions& options() const { return options_; }
  const GivenOptions& given() const { return given_; }

 private:
  // One thread at a time: next() runs without the GIL, so a second Python
  // thread could otherwise enter the loader while the first waits.
  std::unique_lock<std::mutex> take(const char* what) {
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock())
      throw std::runtime_error(std::string("ferry: DataLoader.") + what +
                               " called while another thread is inside this loader; use a loader from one "
                               "thread at a time");
    return lock;
  }

  // Stops the workers (bounded, no child left); the next iter() starts new ones.
  void restart() {
    py::gil_scoped_release nogil;
    loader_->close();
  }

  LoaderInput input_;
  LoaderOptions options_;
  GivenOptions given_;
  BatchConverter convert_;
  std::unique_ptr<DataLoader> loader_;
  std::mutex mutex_;
  uint64_t token_ = 0;
  bool running_ = false;
  uint64_t current_epoch_ = 0;
  int64_t delivered_ = 0;
};

struct EpochIterator {
  py::object loader;  // keeps the PyLoader alive
  uint64_t token;
  EpochIterator(py::object l, uint64_t t) : loader(std::move(l)), token(t) {}
  EpochIterator(const EpochIterator&) = delete;
  EpochIterator& operator=(const EpochIterator&) = delete;
  ~EpochIterator() {
    if (loader) loader.cast<PyLoader&>().abandon(token);
  }
};

// The engine's dataset for `dataset`: a ferry.Dataset as it is, any other
// object as a Python map-style dataset. `reshape`: batches need the layout
// (batch_size=None, collate_fn) even for a ferry.Dataset.
LoaderInput loader_input(const py::object& dataset, const PythonDatasetArgs& args, bool reshape, LoaderOptions& o) {
  if (!py::isinstance<PyDataset>(dataset)) return python_dataset_input(dataset, args, o);
  if (!args.schema.is_none() || !args.transforms.is_none() || !args.worker_init_fn.is_none())
    throw InvalidOption(
        "ferry: schema=, transforms= and worker_init_fn= are for Python datasets; a ferry.Dataset has its "
        "schema and pipeline, and its workers run no Python");
  const auto& d = dataset.cast<const PyDataset&>();
  LoaderInput input{d.dataset, nullptr, dataset, nullptr};
  if (reshape) input.layout = released_with_gil(SampleLayout::of_schema(d.dataset->schema()));
  return input;
}

void check_python_options(const py::object& batch_size, int num_workers, const py::object& prefetch_factor,
                          bool drop_last, double timeout) {
  if (!(timeout >= 0) || !std::isfinite(timeout))
    throw InvalidOption("ferry: timeout must be a finite number of seconds >= 0 (0 = none), got " +
                        std::to_string(timeout));
  if (!prefetch_factor.is_none() && num_workers == 0)
    throw InvalidOption(
        "ferry: prefetch_factor counts batches in flight per worker process; with num_workers=0 there are "
        "none, so leave it None (as torch.utils.data.DataLoader requires)");
  if (batch_size.is_none() && drop_last)
    throw InvalidOption("ferry: batch_size=None yields single samples, so drop_last=True has nothing to drop");
  if (num_workers > 0 && in_worker_bootstrap())
    throw InvalidOption(
        "ferry: a spawned worker is importing the main module, and it makes a DataLoader with workers: each "
        "worker would spawn more. Put the training code under `if __name__ == '__main__':`, as for "
        "multiprocessing's spawn start method");
}

std::unique_ptr<PyLoader> make_loader(const py::object& dataset, const py::object& batch_size, bool shuffle,
                                      int num_workers, const py::object& prefetch_factor, bool persistent_workers,
                                      bool drop_last, const py::object& pin_memory, double timeout, bool in_order,
                                      uint64_t seed, int threads_per_worker, const std::string& on_bad_sample,
                                      const std::string& on_worker_failure, const py::object& rank,
                                      const py::object& world_size, const std::string& start_method,
                                      const py::object& worker_executable, const py::object& device,
                                      const py::object& collate_fn, const py::object& worker_init_fn,
                                      const py::object& schema, const py::object& transforms) {
  check_python_options(batch_size, num_workers, prefetch_factor, drop_last, timeout);
  LoaderOptions o;
  o.batch_size = batch_size.is_none() ? 1 : batch_size.cast<int64_t>();
  o.shuffle = shuffle;
  o.num_workers = num_workers;
  o.prefetch_factor = prefetch_factor.is_none() ? 2 : prefetch_factor.cast<int>();
  o.persistent_workers = persistent_workers;
  o.drop_last = drop_last;
  o.timeout = std::chrono::milliseconds(int64_t(std::ceil(timeout * 1000.0)));
  o.in_order = in_order;
  o.seed = seed;
  o.threads_per_worker = threads_per_worker;
  o.on_bad_sample = parse_option<OnBadSample>("on_bad_sample", on_bad_sample);
  o.on_worker_failure = parse_option<OnWorkerFailure>("on_worker_failure", on_worker_failure);
  o.start_method = parse_option<StartMethod>("start_method", start_method);
  o.pin_memory = parse_pin_memory(pin_memory);
  o.device = parse_device(device);
  o.worker_executable = worker_executable.is_none() ? g_default_worker : worker_executable.cast<std::string>();
  if (!world_size.is_none() || !rank.is_none()) {
    if (world_size.is_none() || rank.is_none())
      throw InvalidOption("ferry: pass both rank and world_size (or neither)");
    o.sampler = std::make_shared<DistributedSampler>(make_default_sampler(o), rank.cast<int>(), world_size.cast<int>(),
                                                     drop_last ? Tail::kDrop : Tail::kPad);
  }
  GivenOptions given{batch_size,     num_workers > 0 ? py::object(py::int_(o.prefetch_factor)) : py::object(py::none()),
                     pin_memory,     collate_fn,
                     worker_init_fn, rank,
                     world_size,     timeout,
                     on_bad_sample,  on_worker_failure,
                     start_method};
  PythonDatasetArgs args{schema, transforms, worker_init_fn, worker_executable};
  LoaderInput input = loader_input(dataset, args, batch_size.is_none() || !collate_fn.is_none(), o);
  return std::make_unique<PyLoader>(std::move(input), std::move(o), std::move(given));
}

}  // namespace

void bind_loader(py::module_& m) {
  g_default_worker = worker_beside_module();
  py::class_<PyDataset>(m, "Dataset",
                        "A C++ dataset: encoded samples from a source, decoded by a named pipeline.\n"
                        "Build one with ferry.ImageFolder(...) or ferry.open_dataset(...).")
      .def("__len__", [](const PyDataset& d) { return d.dataset->size(); })
      .def("describe", [](const PyDataset& d) { return d.dataset->describe(); })
      .def_property_readonly("schema", [](const PyDataset& d) { return schema_list(d.dataset->schema()); })
      .def_property_readonly("num_classes", [](const PyDataset& d) { return d.src().num_classes(); })
      .def_property_readonly("classes",
                             [](const PyDataset& d) -> py::object {
                               const auto* folder = dynamic_cast<const ImageFolder*>(&d.src());
                               if (!folder) return py::none();
                               return py::cast(folder->classes());
                             })
      .def(
          "path",
          [](const PyDataset& d, int64_t i) {
            if (i < 0 || i >= d.src().size()) throw py::index_error("ferry: sample index out of range");
            return d.src().path(i);
          },
          py::arg("index"))
      .def(
          "label",
          [](const PyDataset& d, int64_t i) {
            if (i < 0 || i >= d.src().size()) throw py::index_error("ferry: sample index out of range");
            return d.src().label(i);
          },
          py::arg("index"))
      .def("__repr__", [](const PyDataset& d) { return "ferry.Dataset(" + d.dataset->describe() + ")"; });

  m.def(
      "ImageFolder",
      [](const std::string& root, const std::string& pipeline, int size, const py::object& color_jitter,
         double random_grayscale, const std::string& interpolation) {
        struct stat st {};
        if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          throw DataError("ferry: ImageFolder root " + root + " is not a folder");
        return make_dataset(root, pipeline, size, color_jitter, random_grayscale, interpolation);
      },
      py::arg("root"), py::arg("pipeline") = "train", py::arg("size") = 224, py::kw_only(),
      py::arg("color_jitter") = py::none(), py::arg("random_grayscale") = 0.0, py::arg("interpolation") = "bilinear",
      "root/<class>/<file> as torchvision's ImageFolder (JPEG, PNG and WebP, told apart by content),\n"
      "decoded by `pipeline`: 'train', 'val', 'train_u8', 'val_u8', 'decode' (see\n"
      "transforms/image_pipeline.h), or 'raw' for the encoded bytes (a ragged 'bytes' field).\n"
      "color_jitter=(brightness, contrast, saturation, hue) adds torchvision's ColorJitter (each a\n"
      "strength or a (min, max) pair), random_grayscale=p RandomGrayscale(p); interpolation is\n"
      "'bilinear', 'bicubic' or 'nearest'. Fields: image (or bytes), label.");

  m.def(
      "open_dataset",
      [](const std::string& spec, const std::string& pipeline, int size, const py::object& color_jitter,
         double random_grayscale, const std::string& interpolation) {
        return make_dataset(spec, pipeline, size, color_jitter, random_grayscale, interpolation);
      },
      py::arg("spec"), py::arg("pipeline") = "train", py::arg("size") = 224, py::kw_only(),
      py::arg("color_jitter") = py::none(), py::arg("random_grayscale") = 0.0, py::arg("interpolation") = "bilinear",
      "A dataset from one string: a folder (ImageFolder), a .csv/.tsv file list (path,label),\n"
      "a .tar shard or brace pattern (train-{000..099}.tar), or a .ferry packed file.");

  m.def(
      "SegmentationDataset",
      [](const std::string& images, const py::object& masks, const std::string& pipeline, int size,
         const std::string& mask_dtype, const py::object& color_jitter, double random_grayscale,
         const std::string& interpolation) {
        if (mask_dtype != "int64" && mask_dtype != "uint8")
          throw InvalidOption("ferry: mask_dtype must be 'int64' or 'uint8', got '" + mask_dtype + "'");
        const auto p = pipeline_spec(pipeline, size, color_jitter, random_grayscale, interpolation);
        const std::string mask_dir = masks.is_none() ? std::string() : masks.cast<std::string>();
        PyDataset d;  // no spec: pairs have no SampleSource
        py::gil_scoped_release nogil;
        d.dataset =
            open_segmentation_dataset(images, mask_dir, p, mask_dtype == "uint8" ? DType::kUInt8 : DType::kInt64);
        return d;
      },
      py::arg("images"), py::arg("masks") = py::none(), py::arg("pipeline") = "train", py::arg("size") = 224,
      py::kw_only(), py::arg("mask_dtype") = "int64", py::arg("color_jitter") = py::none(),
      py::arg("random_grayscale") = 0.0, py::arg("interpolation") = "bilinear",
      "(image, mask) pairs: `images` and `masks` folders paired by relative path and name (any\n"
      "extension), or, with masks=None, a .csv/.tsv list of image,mask lines. The image goes through\n"
      "`pipeline` (with color_jitter, random_grayscale, interpolation as for ImageFolder); the mask\n"
      "follows its crop and flip by nearest neighbour, as class ids (mask_dtype 'int64' or 'uint8').\n"
      "Fields: image, mask.");

  py::class_<EpochIterator>(m, "_EpochIterator")
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", [](EpochIterator& it) { return it.loader.cast<PyLoader&>().next(it.token); })
      .def("__len__", [](EpochIterator& it) { return it.loader.cast<PyLoader&>().size(); });

  py::class_<PyLoader>(m, "DataLoader",
                       "Batches from a ferry.Dataset or a Python dataset, map-style (__len__,\n"
                       "__getitem__) or iterable (__iter__; each worker reads its own iter(dataset)),\n"
                       "produced by worker processes into shared memory.\n\n"
                       "Each iter() runs one epoch (the epoch number advances by itself; set_epoch()\n"
                       "overrides it). A batch of a ferry.Dataset is a dict {field: ferry.Tensor |\n"
                       "ferry.RaggedTensor}; a Python dataset's batch has its samples' structure.\n"
                       "Tensors are DLPack producers, taken without copies by torch/numpy/jax.\n"
                       "Use a loader from one thread at a time.")
      .def(py::init(&make_loader), py::arg("dataset"), py::kw_only(), py::arg("batch_size") = 1,
           py::arg("shuffle") = false, py::arg("num_workers") = 0, py::arg("prefetch_factor") = py::none(),
           py::arg("persistent_workers") = false, py::arg("drop_last") = false, py::arg("pin_memory") = false,
           py::arg("timeout") = 0.0, py::arg("in_order") = true, py::arg("seed") = 0, py::arg("threads_per_worker") = 1,
           py::arg("on_bad_sample") = "error", py::arg("on_worker_failure") = "error", py::arg("rank") = py::none(),
           py::arg("world_size") = py::none(), py::arg("start_method") = "auto",
           py::arg("worker_executable") = py::none(), py::arg("device") = py::none(),
           py::arg("collate_fn") = py::none(), py::arg("worker_init_fn") = py::none(), py::arg("schema") = py::none(),
           py::arg("transforms") = py::none())
      .def("__len__", &PyLoader::size)
      .def("__iter__",
           [](py::object self) {
             const uint64_t token = self.cast<PyLoader&>().start_epoch();
             return std::make_unique<EpochIterator>(self, token);
           })
      .def("set_epoch", &PyLoader::set_epoch, py::arg("epoch"), "The epoch the next iter() runs.")
      .def_property_readonly("next_epoch", &PyLoader::next_epoch)
      .def("state_dict", &PyLoader::state_dict,
           "Where the loader is: {'epoch', ...}; mid-epoch it names the running epoch.")
      .def("load_state_dict", &PyLoader::load_state_dict, py::arg("state"))
      .def("stats", &PyLoader::stats, "Counters and stage times (seconds) as a dict.")
      .def("describe", &PyLoader::describe)
      .def("worker_pids", &PyLoader::worker_pids, "Pids of the running worker processes.")
      .def_property_readonly("slot_bytes", &PyLoader::slot_bytes)
      .def("close", &PyLoader::close, "Stops the workers now; a later iter() starts new ones.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyLoader& l, py::args) { l.close(); })
      .def_property_readonly("dataset", [](const PyLoader& l) { return l.dataset(); })
      .def_property_readonly("batch_size", [](const PyLoader& l) { return l.given().batch_size; })
      .def_property_readonly("num_workers", [](const PyLoader& l) { return l.options().num_workers; })
      .def_property_readonly("seed", [](const PyLoader& l) { return l.options().seed; })
      .def_property_readonly("device", [](const PyLoader& l) { return device_name(l.options().device); })
      .def_property_readonly("shuffle", [](const PyLoader& l) { return l.options().shuffle; })
      .def_property_readonly("drop_last", [](const PyLoader& l) { return l.options().drop_last; })
      .def_property_readonly("prefetch_factor", [](const PyLoader& l) { return l.given().prefetch_factor; })
      .def_property_readonly("persistent_workers", [](const PyLoader& l) { return l.options().persistent_workers; })
      .def_property_readonly("pin_memory", [](const PyLoader& l) { return l.given().pin_memory; })
      .def_property_readonly("timeout", [](const PyLoader& l) { return l.given().timeout; })
      .def_property_readonly("in_order", [](const PyLoader& l) { return l.options().in_order; })
      .def_property_readonly("threads_per_worker", [](const PyLoader& l) { return l.options().threads_per_worker; })
      .def_property_readonly("on_bad_sample", [](const PyLoader& l) { return l.given().on_bad_sample; })
      .def_property_readonly("on_worker_failure", [](const PyLoader& l) { return l.given().on_worker_failure; })
      .def_property_readonly("start_method", [](const PyLoader& l) { return l.given().start_method; })
      .def_property_readonly("rank", [](const PyLoader& l) { return l.given().rank; })
      .def_property_readonly("world_size", [](const PyLoader& l) { return l.given().world_size; })
      .def_property_readonly("collate_fn", [](const PyLoader& l) { return l.given().collate_fn; })
      .def_property_readonly("worker_init_fn", [](const PyLoader& l) { return l.given().worker_init_fn; })
      .def("__repr__", [](PyLoader& l) { return "ferry.DataLoader(\n" + l.describe() + ")"; });
}

}  // namespace ferry::python
