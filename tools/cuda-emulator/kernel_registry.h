// Every kernel entry point compiled into the emulator, by name, with a binder that copies a launch's arguments
// (cuLaunchKernel's array of pointers, one per parameter) into a callable, as the driver copies them at launch or at
// graph capture. Each kernels/<stem>.cu is compiled with a generated list of its entries (from its PTX's .entry
// lines), each registered with IIP_EMULATED_KERNEL(name).
#pragma once

#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace iip_emulation {

using BoundKernel = std::function<void()>;
using KernelBinder = BoundKernel (*)(void** parameters);

// Adds `name` to the registry; returns true (for a static initializer). Defined in driver.cpp.
bool register_kernel(const char* name, KernelBinder binder);

// The binder of a kernel whose type is Signature.
template <class Signature>
struct Binder;

template <class... Parameters>
struct Binder<void (*)(Parameters...)> {
    template <void (*Kernel)(Parameters...)>
    static BoundKernel bind(void** parameters) {
        return bind_each<Kernel>(parameters, std::index_sequence_for<Parameters...>{});
    }

  private:
    template <void (*Kernel)(Parameters...), size_t... I>
    static BoundKernel bind_each(void** parameters, std::index_sequence<I...>) {
        // parameter I is read as its own type from parameters[I] (a pointer parameter as the 8-byte device address)
        std::tuple<std::decay_t<Parameters>...> values{*static_cast<std::decay_t<Parameters>*>(parameters[I])...};
        return [values]() { std::apply(Kernel, values); };
    }
};

}  // namespace iip_emulation

#define IIP_EMULATED_KERNEL(name)                                                                                 \
    static const bool iip_emulated_##name = ::iip_emulation::register_kernel(                                      \
        #name, &::iip_emulation::Binder<decltype(&name)>::template bind<&name>);
