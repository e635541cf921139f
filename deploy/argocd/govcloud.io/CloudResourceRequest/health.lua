-- Argo CD health of a govcloud.io/v1alpha1 CloudResourceRequest, read from what
-- govcloud-operator writes: status.phase, status.conditions, status.deadlines.
--   Submitted, Approved, Provisioning, Reclaiming   -> Progressing
--   Active                                          -> Healthy (notices in the message,
--                                                      incl. PolicyUnavailable)
--   Reclaimed                                       -> Healthy (the grant ended by the rules)
--   Suspended; deletion held by DeletionBlocked     -> Suspended (waits for people)
--   Suspended with ReclaimHeld (provisional count)  -> Suspended (waits for a WorkCalendar or an override)
--   Rejected, Invalid; NamespaceConflict            -> Degraded (someone must change something)
-- Lua 5.1 (Argo CD's gopher-lua); no libraries needed.
local hs = {}

local function true_condition(t)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t and c.status == "True" then
      return c
    end
  end
  return nil
end

local function say(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local function deadline(name)
  if obj.status.deadlines ~= nil and obj.status.deadlines[name] ~= nil then
    return " (" .. name .. " " .. obj.status.deadlines[name] .. ")"
  end
  return ""
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for govcloud-operator to pick up the request"
  return hs
end
local st = obj.status
local tenant = st.tenantNamespace or "(none yet)"

if obj.metadata.deletionTimestamp ~= nil then
  local blocked = true_condition("DeletionBlocked")
  if blocked ~= nil then
    hs.status = "Suspended"
    hs.message = "Deletion held to protect data: " .. say(blocked, "file an ExitRequest")
  else
    hs.status = "Progressing"
    hs.message = "Being deleted"
  end
  return hs
end

if obj.metadata.generation ~= nil and st.observedGeneration ~= nil
    and st.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for govcloud-operator to observe generation " .. obj.metadata.generation
  return hs
end

local phase = st.phase
if phase == "Invalid" then
  hs.status = "Degraded"
  hs.message = "Invalid: " .. say(true_condition("Invalid"), "see status.conditions")
elseif phase == "Rejected" then
  local a = st.reviewedApproval or st.approval or {}
  hs.status = "Degraded"
  hs.message = "Rejected by " .. (a.reviewer or "the approver") .. ": " .. (a.comment or "no reason given")
    .. "; edit the spec to resubmit"
elseif phase == "Submitted" then
  local overdue = true_condition("ReviewOverdue")
  hs.status = "Progressing"
  if overdue ~= nil then
    hs.message = "Review overdue: " .. say(overdue, "no decision yet")
  else
    hs.message = "Awaiting review" .. deadline("reviewBy")
  end
elseif phase == "Approved" or phase == "Provisioning" then
  local conflict = true_condition("NamespaceConflict")
  local capacity = true_condition("InsufficientCapacity")
  if conflict ~= nil then
    hs.status = "Degraded"
    hs.message = "Tenant namespace conflict: " .. say(conflict, tenant .. " belongs to someone else")
  elseif capacity ~= nil then
    hs.status = "Progressing"
    hs.message = "Waiting for pool capacity: " .. say(capacity, "the pool is full")
  else
    hs.status = "Progressing"
    hs.message = "Approved; provisioning tenant namespace " .. tenant .. deadline("provisionBy")
  end
elseif phase == "Active" then
  hs.status = "Healthy"
  hs.message = "Active in tenant namespace " .. tenant
  for _, t in ipairs({"PolicyUnavailable", "UnappliedSpecChange", "PaperworkOverdue", "PaperworkPending",
                      "ExpiringSoon", "NotDeployed", "CalendarIncomplete"}) do
    local c = true_condition(t)
    if c ~= nil then
      hs.message = hs.message .. "; " .. t .. ": " .. say(c, "see status.conditions")
    end
  end
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = say(true_condition("Suspended"), "Suspended: quota closed, workloads scaled to zero")
  local held = true_condition("ReclaimHeld")
  if held ~= nil then
    hs.message = "Reclaim held: " .. say(held, "waiting for the year's WorkCalendar")
  end
elseif phase == "Reclaiming" then
  hs.status = "Progressing"
  hs.message = "Reclaiming tenant namespace " .. tenant .. ": its data is being deleted"
elseif phase == "Reclaimed" then
  hs.status = "Healthy"
  hs.message = "Reclaimed: the grant has ended and tenant namespace " .. tenant .. " is deleted"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
