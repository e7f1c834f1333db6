#include "common.h"

#include <cmath>
#include <limits>

namespace vigil {

std::string DescribeValue(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return v.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: {
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isnan(d)) return "NaN";
      std::string s = std::to_string(d);
      // Trim trailing zeros of std::to_string's fixed format: 3.000000 -> 3, 2.500000 -> 2.5.
      if (s.find('.') != std::string::npos) {
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
      }
      return s;
    }
    case napi_string: {
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return "\"" + s + "\"";
    }
    case napi_function: return "a function";
    case napi_object:
      if (v.IsArray()) return "an array of length " + std::to_string(v.As<Napi::Array>().Length());
      return "an object";
    default: return "a value of another type";
  }
}

void ThrowExpected(Napi::Env env, const char* what, const std::string& name, const Napi::Value& v) {
  throw Napi::TypeError::New(env, std::string("Expected ") + what + " for " + name + " but received " +
                                      DescribeValue(v));
}

Napi::Object ExpectObject(const Napi::Value& v, const std::string& name) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) ThrowExpected(v.Env(), "an object", name, v);
  return v.As<Napi::Object>();
}

std::string ExpectString(const Napi::Value& v, const std::string& name) {
  if (!v.IsString()) ThrowExpected(v.Env(), "a string", name, v);
  return v.As<Napi::String>().Utf8Value();
}

double ExpectNumber(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
    ThrowExpected(v.Env(), "a finite number", name, v);
  return v.As<Napi::Number>().DoubleValue();
}

int ExpectInt(const Napi::Value& v, const std::string& name, int min, int max) {
  if (!v.IsNumber()) ThrowExpected(v.Env(), "an integer", name, v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < min || d > max) {
    std::string what = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    ThrowExpected(v.Env(), what.c_str(), name, v);
  }
  return static_cast<int>(d);
}

bool ExpectBool(const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) ThrowExpected(v.Env(), "a boolean", name, v);
  return v.As<Napi::Boolean>().Value();
}

Napi::Function ExpectFunction(const Napi::Value& v, const std::string& name) {
  if (!v.IsFunction()) ThrowExpected(v.Env(), "a function", name, v);
  return v.As<Napi::Function>();
}

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace vigil
