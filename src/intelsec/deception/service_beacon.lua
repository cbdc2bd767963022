-- service_beacon.lua: nginx/OpenResty beacon for intelsec canary routes.
--
-- On a touch of a canary location, post minimal metadata (asset, source address, user agent,
-- path, method, caller identity) to the control plane's /api/v1/beacons, signed with the asset's
-- HMAC-SHA256 key. The post runs in a timer after the response, so the client never waits.
-- Generated and configured by `intelsec deception nginx-config`.
local ffi = require "ffi"

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
]]

local crypto = ffi.C
if not pcall(function() return crypto.EVP_sha256 end) then
    crypto = ffi.load("crypto")
end

local _M = { host = nil, port = 80, path = "/api/v1/beacons", keys = {}, timeout_ms = 2000 }

local function hmac_sha256_hex(key, msg)
    local md = ffi.new("unsigned char[32]")
    local len = ffi.new("unsigned int[1]")
    crypto.HMAC(crypto.EVP_sha256(), key, #key, msg, #msg, md, len)
    local out = {}
    for i = 0, len[0] - 1 do
        out[#out + 1] = string.format("%02x", md[i])
    end
    return table.concat(out)
end

local function jstr(s)
    if s == nil or s == "" then
        return "null"
    end
    s = string.sub(tostring(s), 1, 1000)
    s = s:gsub('[%c"\\\128-\255]', function(c)
        if c == '"' then return '\\"' end
        if c == "\\" then return "\\\\" end
        return string.format("\\u%04x", c:byte())
    end)
    return '"' .. s .. '"'
end

function _M.configure(opts)
    local host, port, base = string.match(opts.url, "^http://([^/:]+):?(%d*)(.*)$")
    if not host then
        error("intelsec beacon: control plane url must be http://host[:port][/base]")
    end
    _M.host = host
    _M.port = tonumber(port) or 80
    _M.path = (base or ""):gsub("/$", "") .. "/api/v1/beacons"
    _M.keys = opts.keys or {}
    _M.timeout_ms = opts.timeout_ms or 2000
end

local function post(premature, body, sig)
    if premature then
        return
    end
    local sock = ngx.socket.tcp()
    sock:settimeouts(_M.timeout_ms, _M.timeout_ms, _M.timeout_ms)
    local ok, err = sock:connect(_M.host, _M.port)
    if not ok then
        ngx.log(ngx.WARN, "intelsec beacon: cannot reach control plane: ", err)
        return
    end
    sock:send("POST " .. _M.path .. " HTTP/1.1\r\nHost: " .. _M.host .. "\r\n" ..
        "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n" ..
        "X-Intelsec-Signature: " .. sig .. "\r\nConnection: close\r\n\r\n" .. body)
    local status = sock:receive("*l")
    if not status or not string.find(status, " 202 ", 1, true) then
        ngx.log(ngx.WARN, "intelsec beacon: not accepted: ", status or "no answer")
    end
    sock:close()
end

function _M.fire(asset)
    local key = _M.keys[asset]
    if not key or not _M.host then
        ngx.log(ngx.ERR, "intelsec beacon: no key configured for asset ", asset)
        return
    end
    if not _M.seeded then -- per worker: workers fork from one master, so seed after the fork
        math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
        _M.seeded = true
    end
    local identity = ngx.var.http_x_spiffe_id or ngx.var.ssl_client_s_dn
    local body = "{" ..
        '"asset":' .. jstr(asset) ..
        ',"ts":' .. ngx.time() ..
        ',"nonce":' .. jstr(string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))) ..
        ',"channel":"nginx"' ..
        ',"source_ip":' .. jstr(ngx.var.remote_addr) ..
        ',"user_agent":' .. jstr(ngx.var.http_user_agent) ..
        ',"path":' .. jstr(ngx.var.uri) ..
        ',"method":' .. jstr(ngx.req.get_method()) ..
        ',"identity":' .. jstr(identity) ..
        ',"test_token":' .. jstr(ngx.var.http_x_intelsec_test) .. "}"
    local ok, err = ngx.timer.at(0, post, body, "sha256=" .. hmac_sha256_hex(key, body))
    if not ok then
        ngx.log(ngx.ERR, "intelsec beacon: cannot schedule: ", err)
    end
end

return _M
