-- Argo CD health of a govcloud.io/v1alpha1 ExitRequest, read from what govcloud-operator
-- writes: status.phase, status.conditions, status.deadlines.
--   Submitted, Approved, Transition, Reclaiming   -> Progressing
--   Transition awaiting the backup confirmation   -> Suspended (waits for the unit)
--   Transition with ReclaimHeld                   -> Suspended (waits for a WorkCalendar or an override)
--   Completed -> Healthy   Rejected, Invalid -> Degraded
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
  hs.message = "Waiting for govcloud-operator to pick up the exit"
  return hs
end
local st = obj.status

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
  local a = st.approval or {}
  hs.status = "Degraded"
  hs.message = "Rejected by " .. (a.reviewer or "the approver") .. ": " .. (a.comment or "no reason given")
elseif phase == "Submitted" then
  hs.status = "Progressing"
  local overdue = true_condition("ReviewOverdue")
  if overdue ~= nil then
    hs.message = "Review overdue: " .. say(overdue, "no decision yet")
  else
    hs.message = "Awaiting review" .. deadline("reviewBy")
  end
  local late = true_condition("LateSubmission")
  if late ~= nil then
    hs.message = hs.message .. "; filed late: " .. say(late, "after the submission period")
  end
elseif phase == "Approved" then
  hs.status = "Progressing"
  hs.message = "Approved; the transition period starts"
elseif phase == "Transition" then
  local backup = true_condition("AwaitingBackupConfirmation")
  local held = true_condition("ReclaimHeld")
  if held ~= nil then
    hs.status = "Suspended"
    hs.message = "Reclaim held: " .. say(held, "waiting for the year's WorkCalendar")
  elseif backup ~= nil then
    hs.status = "Suspended"
    hs.message = say(backup, "Waiting for spec.dataDisposition.backupConfirmed")
  else
    hs.status = "Progressing"
    hs.message = "Transition period" .. deadline("transitionEndsAt")
  end
elseif phase == "Reclaiming" then
  hs.status = "Progressing"
  local overdue = true_condition("ReclaimOverdue")
  if overdue ~= nil then
    hs.message = "Reclaim overdue: " .. say(overdue, "the tenant namespace still exists")
  else
    hs.message = "Reclaiming the tenant namespace" .. deadline("reclaimBy")
  end
elseif phase == "Completed" then
  hs.status = "Healthy"
  hs.message = "Exit completed; the resources are reclaimed"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
