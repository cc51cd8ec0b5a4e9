#pragma once
/// The DLPack ABI (https://github.com/dmlc/dlpack, include/dlpack/dlpack.h,
/// v1.0), restated here so the module needs no extra dependency. Only the
/// layout matters: these structs cross library boundaries (numpy, torch, jax)
/// by pointer inside a PyCapsule.
///
/// Capsule protocol (what __dlpack__ returns):
///   legacy     name "dltensor",           payload DLManagedTensor*
///   versioned  name "dltensor_versioned", payload DLManagedTensorVersioned*
/// A consumer that takes ownership renames the capsule to "used_dltensor"
/// ("used_dltensor_versioned") and later calls the payload's deleter; the
/// capsule's own destructor calls the deleter only when nobody consumed it.
#include <cstdint>

namespace ferry::python::dlpack {

inline constexpr uint32_t kMajorVersion = 1;
inline constexpr uint32_t kMinorVersion = 0;

enum DeviceType : int32_t { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3 };
enum DataTypeCode : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };

struct DLDevice {
  int32_t device_type;  // DeviceType
  int32_t device_id;
};

struct DLDataType {
  uint8_t code;  // DataTypeCode
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; may be null for compact row-major
  uint64_t byte_offset;
};

struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};

inline constexpr uint64_t kFlagReadOnly = 1ull << 0;

struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};

}  // namespace ferry::python::dlpack
