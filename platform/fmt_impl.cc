// The compiled part of {fmt} (Debian's libfmt-dev 9.x headers), built into ondo_platform so that
// no build of ondo (libondo.a for firmware, libondo.so, the ondo program) needs libfmt at run
// time or at link time: Debian ships only a shared libfmt, which a statically linked firmware
// image cannot use. format-inl.h holds the out-of-line definitions (FMT_FUNC is empty when
// FMT_HEADER_ONLY is not defined); the templates below are the instantiations the rest of fmt
// declares extern for char.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
