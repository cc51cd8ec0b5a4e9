// An NVTX injection library, the hook Nsight Systems uses: a process that
// finds it in NVTX_INJECTION64_PATH loads it at its first NVTX call, and its
// ranges, domains and thread names come here instead of to a profiler.
// Each process appends lines to $FERRY_NVTX_RECORD_DIR/<pid>.tsv:
//   domain <TAB> name
//   push   <TAB> tid <TAB> domain <TAB> message
//   pop    <TAB> tid <TAB> domain
//   thread <TAB> tid <TAB> name
// A forked child inherits the loaded library; its lines go to its own file.
#define NVTX_NO_IMPL
#include <fcntl.h>
#include <nvtx3/nvToolsExt.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Domain {
  std::string name;
};

// pid << 32 | fd of this process's file; another pid means a forked child.
std::atomic<uint64_t> g_file{0};

int file_of_this_process() {
  const uint64_t pid = static_cast<uint64_t>(getpid());
  uint64_t cur = g_file.load();
  if (cur >> 32 == pid) return static_cast<int>(cur & 0xffffffffu);
  const char* dir = std::getenv("FERRY_NVTX_RECORD_DIR");
  if (dir == nullptr) return -1;
  const std::string path = std::string(dir) + "/" + std::to_string(pid) + ".tsv";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  const uint64_t mine = pid << 32 | static_cast<uint32_t>(fd);
  if (g_file.compare_exchange_strong(cur, mine)) return fd;
  ::close(fd);  // another thread of this process opened it first
  return static_cast<int>(g_file.load() & 0xffffffffu);
}

// One line per write() on an O_APPEND file: lines of threads never interleave.
void record(const std::string& line) {
  const int fd = file_of_this_process();
  if (fd >= 0) (void)!::write(fd, line.data(), line.size());
}

std::string tid() { return std::to_string(syscall(SYS_gettid)); }

std::string domain_name(nvtxDomainHandle_t d) {
  return d == nullptr ? std::string() : reinterpret_cast<const Domain*>(d)->name;
}

std::string message_of(const nvtxEventAttributes_t* a) {
  if (a == nullptr || a->messageType != NVTX_MESSAGE_TYPE_ASCII || a->message.ascii == nullptr) return "?";
  return a->message.ascii;
}

thread_local int t_depth = 0;

nvtxDomainHandle_t NVTX_API domain_create(const char* name) {
  record("domain\t" + std::string(name) + "\n");
  return reinterpret_cast<nvtxDomainHandle_t>(new Domain{name});  // lives as long as the process
}

int NVTX_API domain_push(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  record("push\t" + tid() + "\t" + domain_name(d) + "\t" + message_of(a) + "\n");
  return t_depth++;
}

int NVTX_API domain_pop(nvtxDomainHandle_t d) {
  record("pop\t" + tid() + "\t" + domain_name(d) + "\n");
  return --t_depth;
}

int NVTX_API push_a(const char* message) {
  record("push\t" + tid() + "\t\t" + message + "\n");
  return t_depth++;
}

int NVTX_API push_ex(const nvtxEventAttributes_t* a) {
  record("push\t" + tid() + "\t\t" + message_of(a) + "\n");
  return t_depth++;
}

int NVTX_API pop() {
  record("pop\t" + tid() + "\t\n");
  return --t_depth;
}

void NVTX_API name_os_thread(uint32_t thread_id, const char* name) {
  record("thread\t" + std::to_string(thread_id) + "\t" + name + "\n");
}

template <class Fn>
bool attach(const NvtxExportTableCallbacks* callbacks, NvtxCallbackModule module, unsigned id, Fn* fn) {
  NvtxFunctionTable table = nullptr;
  unsigned size = 0;
  if (!callbacks->GetModuleFunctionTable(module, &table, &size) || table == nullptr || id >= size) return false;
  *table[id] = reinterpret_cast<NvtxFunctionPointer>(fn);
  return true;
}

}  // namespace

extern "C" NVTX_DYNAMIC_EXPORT int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get_export_table) {
  const auto* callbacks = static_cast<const NvtxExportTableCallbacks*>(get_export_table(NVTX_ETID_CALLBACKS));
  if (callbacks == nullptr) return 0;
  bool ok = attach(callbacks, NVTX_CB_MODULE_CORE2, NVTX_CBID_CORE2_DomainCreateA, &domain_create) &&
            attach(callbacks, NVTX_CB_MODULE_CORE2, NVTX_CBID_CORE2_DomainRangePushEx, &domain_push) &&
            attach(callbacks, NVTX_CB_MODULE_CORE2, NVTX_CBID_CORE2_DomainRangePop, &domain_pop) &&
            attach(callbacks, NVTX_CB_MODULE_CORE, NVTX_CBID_CORE_RangePushA, &push_a) &&
            attach(callbacks, NVTX_CB_MODULE_CORE, NVTX_CBID_CORE_RangePushEx, &push_ex) &&
            attach(callbacks, NVTX_CB_MODULE_CORE, NVTX_CBID_CORE_RangePop, &pop) &&
            attach(callbacks, NVTX_CB_MODULE_CORE, NVTX_CBID_CORE_NameOsThreadA, &name_os_thread);
  return ok ? 1 : 0;
}
